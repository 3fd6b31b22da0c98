using System.Numerics;
using System.Security.Cryptography;

namespace SamAdapt.Imaging.Dicom.Seg;

/// <summary>UIDs for objects the project creates: the "2.25." form of PS3.5 B.2 (a UUID written as one decimal
/// integer), unique without a registered root.</summary>
internal static class DicomUids
{
    /// <summary>Identifies the software that wrote a file (file meta information); fixed, derived the same way.</summary>
    public const string ImplementationClassUid = "2.25.216845209151530960129513466427711953153";

    public static string New()
    {
        Span<byte> b = stackalloc byte[16];
        RandomNumberGenerator.Fill(b);
        return "2.25." + new BigInteger(b, isUnsigned: true).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}

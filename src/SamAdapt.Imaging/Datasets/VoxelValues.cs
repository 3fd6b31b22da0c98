namespace SamAdapt.Imaging;

/// <summary>
/// Exact-type access to typed voxel arrays. Type patterns such as <c>a is ushort[]</c> are not enough: the CLR lets a
/// short[] pass as ushort[] (and sbyte[]/byte[], int[]/uint[], long[]/ulong[]), so reading by pattern order can
/// reinterpret signed data as unsigned. These helpers dispatch on the exact element type.
/// </summary>
internal static class VoxelValues
{
    /// <summary>Raw value at <paramref name="i"/> of a numeric array.</summary>
    public static double Get(Array a, long i)
    {
        var t = a.GetType().GetElementType();
        if (t == typeof(byte)) return ((byte[])a)[i];
        if (t == typeof(sbyte)) return ((sbyte[])a)[i];
        if (t == typeof(ushort)) return ((ushort[])a)[i];
        if (t == typeof(short)) return ((short[])a)[i];
        if (t == typeof(uint)) return ((uint[])a)[i];
        if (t == typeof(int)) return ((int[])a)[i];
        if (t == typeof(ulong)) return ((ulong[])a)[i];
        if (t == typeof(long)) return ((long[])a)[i];
        if (t == typeof(float)) return ((float[])a)[i];
        if (t == typeof(double)) return ((double[])a)[i];
        throw new InvalidOperationException($"unsupported voxel array {a.GetType().Name}");
    }

    /// <summary>All raw values of a numeric array as double.</summary>
    public static double[] ToDouble(Array a)
    {
        var r = new double[a.LongLength];
        var t = a.GetType().GetElementType();
        if (t == typeof(byte)) { var s = (byte[])a; for (long i = 0; i < r.LongLength; i++) r[i] = s[i]; }
        else if (t == typeof(sbyte)) { var s = (sbyte[])a; for (long i = 0; i < r.LongLength; i++) r[i] = s[i]; }
        else if (t == typeof(ushort)) { var s = (ushort[])a; for (long i = 0; i < r.LongLength; i++) r[i] = s[i]; }
        else if (t == typeof(short)) { var s = (short[])a; for (long i = 0; i < r.LongLength; i++) r[i] = s[i]; }
        else if (t == typeof(uint)) { var s = (uint[])a; for (long i = 0; i < r.LongLength; i++) r[i] = s[i]; }
        else if (t == typeof(int)) { var s = (int[])a; for (long i = 0; i < r.LongLength; i++) r[i] = s[i]; }
        else if (t == typeof(float)) { var s = (float[])a; for (long i = 0; i < r.LongLength; i++) r[i] = s[i]; }
        else if (t == typeof(double)) Array.Copy(a, r, r.LongLength);
        else for (long i = 0; i < r.LongLength; i++) r[i] = Get(a, i);
        return r;
    }

    /// <summary>Physical values (raw·slope + intercept when scaled) of a non-RGB volume.</summary>
    public static double[] Physical(Volume v)
    {
        var r = ToDouble(v.Data);
        if (v.IsScaled)
            for (long i = 0; i < r.LongLength; i++) r[i] = r[i] * v.Slope + v.Intercept;
        return r;
    }
}

using System.Runtime.InteropServices;

namespace SamAdapt.Torch.Tests.Core;

/// <summary>The OpenMP wait policy and OpenBLAS thread timeout SamAdapt puts in the C library's environment before libtorch loads.</summary>
public partial class OpenMpEnvironmentTests
{
    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr getenv(string name);

    [Fact]
    public void Passive_waiting_is_in_the_native_environment_unless_the_user_chose_a_policy()
    {
        using (var t = torch.ones(2)) Assert.Equal(2.0, t.sum().item()); // libtorch is loaded by now
        var chosen = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY");
        var spin = Environment.GetEnvironmentVariable("GOMP_SPINCOUNT");
        var native = Marshal.PtrToStringUTF8(getenv("OMP_WAIT_POLICY"));
        if (string.IsNullOrEmpty(chosen) && string.IsNullOrEmpty(spin)) Assert.Equal("PASSIVE", native);
        else Assert.Equal(chosen ?? "", native ?? "");
    }

    [Fact]
    public void Short_openblas_thread_timeout_is_in_the_native_environment_unless_the_user_chose_one()
    {
        using (var t = torch.ones(2)) Assert.Equal(2.0, t.sum().item()); // libtorch is loaded by now
        var chosen = Environment.GetEnvironmentVariable("OPENBLAS_THREAD_TIMEOUT");
        var native = Marshal.PtrToStringUTF8(getenv("OPENBLAS_THREAD_TIMEOUT"));
        Assert.Equal(string.IsNullOrEmpty(chosen) ? "4" : chosen, native);
    }
}

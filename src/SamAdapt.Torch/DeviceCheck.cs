namespace SamAdapt.Torch;

/// <summary>The one device check of the project: parse a device string and make sure libtorch can use it.</summary>
public static class DeviceCheck
{
    /// <summary>
    /// Parses <paramref name="text"/> ("cpu", "cuda", "cuda:N") and checks that the device exists; throws
    /// <see cref="ArgumentException"/> naming <paramref name="option"/>, what was given and what is available.
    /// </summary>
    public static Device Resolve(string text, string option = "--device")
    {
        Device device;
        try { device = Device.Parse(text); }
        catch (FormatException e) { throw new ArgumentException($"{option}: {e.Message}", e); }
        if (device.IsCuda)
        {
            if (!torch.cuda.is_available()) throw new ArgumentException($"{option} {text}: libtorch sees no CUDA device; use {option} cpu");
            int n = torch.cuda.device_count();
            if (device.Index >= n) throw new ArgumentException($"{option} {text}: only {n} CUDA device(s) are visible (cuda:0 … cuda:{n - 1})");
        }
        return device;
    }
}

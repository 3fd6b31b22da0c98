namespace SamAdapt.Sam.Adapters;

/// <summary>
/// State-dict keys that a run's weights file may hold besides the method's model: the learned input projection of
/// multi-channel runs (<c>input_projection.weight</c>, <c>input_projection.bias</c>; docs/imaging.md, "Multi-channel
/// inputs"). The run loader reads them; a method rebuilding its model from the file skips them.
/// </summary>
public static class ReservedWeightKeys
{
    public const string InputProjectionPrefix = "input_projection.";

    public static bool IsReserved(string key) => key.StartsWith(InputProjectionPrefix, StringComparison.Ordinal);

    /// <summary>Removes the reserved keys from a loaded weights dictionary (in place) and returns it.</summary>
    public static Dictionary<string, T> RemoveFrom<T>(Dictionary<string, T> tensors)
    {
        foreach (var k in tensors.Keys.Where(IsReserved).ToList()) tensors.Remove(k);
        return tensors;
    }
}

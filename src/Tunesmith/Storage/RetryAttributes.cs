using Tunesmith.Trials;

namespace Tunesmith.Storage;

/// <summary>What every storage writes on a retry (<see cref="IStudyStorage.RetryTrialAsync"/>), so that all of them agree.</summary>
internal static class RetryAttributes
{
    /// <summary>
    /// The retry's system attributes: the first attempt's number, the attempt count, the last step of the reports it
    /// inherits, and what it continues from (<see cref="SystemAttributeKeys.CarriedByRetry"/>, when the attempt had them).
    /// </summary>
    public static Dictionary<string, object?> Of(FrozenTrial failed, long root, long count)
    {
        var attributes = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            [SystemAttributeKeys.RetryOf] = root,
            [SystemAttributeKeys.RetryCount] = count,
        };
        if (failed.Intermediate.Count > 0) attributes[SystemAttributeKeys.InheritedStep] = failed.Intermediate.Keys.Max();
        foreach (var key in SystemAttributeKeys.CarriedByRetry)
            if (failed.SystemAttributes.TryGetValue(key, out var value) && value is not null) attributes[key] = value;
        return attributes;
    }
}

namespace Tunesmith.Trials;

/// <summary>The fail reason recorded for a trial whose objective threw.</summary>
internal static class FailReasons
{
    /// <summary>
    /// Tunesmith's own errors (a derived value that cannot be computed, a value outside its distribution) are written
    /// for the user and recorded as their message alone; an exception of the user's own code keeps its type name,
    /// as Python's traceback ends with <c>ValueError: ...</c>.
    /// </summary>
    public static string Of(Exception e) =>
        e.GetType().Namespace?.StartsWith("Tunesmith", StringComparison.Ordinal) == true ? e.Message : $"{e.GetType().Name}: {e.Message}";
}

namespace Tunesmith.Spaces;

/// <summary>A search space, a distribution or a parameter value is invalid; the message names the parameter.</summary>
public sealed class SearchSpaceException : Exception
{
    /// <summary>Creates an error whose message is used as is.</summary>
    public SearchSpaceException(string message) : base(message) { }

    /// <summary>Creates an error about <paramref name="parameter"/>.</summary>
    public SearchSpaceException(string parameter, string problem) : base($"parameter '{parameter}': {problem}")
    {
        Parameter = parameter;
    }

    /// <summary>The parameter at fault, when known.</summary>
    public string? Parameter { get; }
}

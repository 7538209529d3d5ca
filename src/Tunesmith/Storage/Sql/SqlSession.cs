using System.Data.Common;

namespace Tunesmith.Storage.Sql;

/// <summary>
/// One open connection and, while a unit of work runs, its transaction. With <c>cacheCommands</c> the session keeps one
/// command per SQL text, so a statement is prepared once per connection and reused (SQLite, whose connections Tunesmith
/// pools itself); without it a fresh command is made each time (a driver that prepares statements on its own pooled
/// connections, such as Npgsql with auto-prepare).
/// </summary>
internal sealed class SqlSession(DbConnection connection, bool cacheCommands) : IAsyncDisposable
{
    private readonly Dictionary<string, DbCommand>? _commands = cacheCommands ? new(StringComparer.Ordinal) : null;

    /// <summary>The open connection.</summary>
    public DbConnection Connection { get; } = connection;

    /// <summary>The transaction of the unit of work now running, if any.</summary>
    public DbTransaction? Transaction { get; set; }

    /// <summary>A command for <paramref name="sql"/>, bound to the current transaction, with no parameters.</summary>
    public DbCommand Command(string sql)
    {
        DbCommand? command = null;
        if (_commands is not null && _commands.TryGetValue(sql, out command))
            command.Parameters.Clear();
        else
        {
            command = Connection.CreateCommand();
            command.CommandText = sql;
            _commands?.Add(sql, command);
        }
        command.Transaction = Transaction;
        return command;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_commands is not null)
            foreach (var c in _commands.Values) await c.DisposeAsync().ConfigureAwait(false);
        if (Transaction is not null) await Transaction.DisposeAsync().ConfigureAwait(false);
        await Connection.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>Parameter binding and value conversions shared by the SQL storages.</summary>
internal static class SqlCommandExtensions
{
    /// <summary>Adds a parameter (null as DBNull) and returns the command.</summary>
    public static DbCommand Bind(this DbCommand command, string name, object? value)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value ?? DBNull.Value;
        command.Parameters.Add(p);
        return command;
    }

    /// <summary>A nullable double column, where NULL stands for NaN (SQLite stores NaN as NULL).</summary>
    public static double GetDoubleOrNaN(this DbDataReader r, int i) => r.IsDBNull(i) ? double.NaN : r.GetDouble(i);

    /// <summary>A double for a column that SQLite cannot hold as NaN.</summary>
    public static object? NaNAsNull(double value) => double.IsNaN(value) ? null : value;

    private static readonly long UnixEpochTicks = DateTimeOffset.UnixEpoch.UtcTicks;

    /// <summary>Microseconds since the Unix epoch, the stored form of a time.</summary>
    public static long ToMicros(DateTimeOffset t) => (t.UtcTicks - UnixEpochTicks) / 10;

    /// <summary>The time stored as microseconds since the Unix epoch.</summary>
    public static DateTimeOffset FromMicros(long micros) => new(UnixEpochTicks + micros * 10, TimeSpan.Zero);

    /// <summary>A nullable time column.</summary>
    public static DateTimeOffset? GetTimeOrNull(this DbDataReader r, int i) => r.IsDBNull(i) ? null : FromMicros(r.GetInt64(i));
}

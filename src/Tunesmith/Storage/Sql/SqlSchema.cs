namespace Tunesmith.Storage.Sql;

/// <summary>
/// The one versioned schema of every SQL storage. Migrations only add (tables, columns, indexes): a database written by
/// an older Tunesmith opens in a newer one, and nothing stored is ever dropped. A database whose version is newer than
/// <see cref="Latest"/> is refused rather than misread.
/// </summary>
/// <remarks>
/// Conventions, chosen so that a person can query the file with plain SQL: states and directions are lower-case text
/// (<c>'running'</c>, <c>'maximize'</c>); times are microseconds since the Unix epoch (UTC) in BIGINT columns;
/// parameter values and attribute values are JSON (one value per row), distributions are the JSON of
/// <see cref="Spaces.DistributionJson"/>. <c>trials.version</c> is the study's change sequence at the trial's last change
/// (<c>studies.change_seq</c> counts them), which incremental readers compare against their cursor.
/// <c>studies.next_number</c> and <c>studies.budget_count</c> are counters kept in the same transactions as the trials
/// they count, so that starting a trial never counts rows.
/// </remarks>
internal static class SqlSchema
{
    /// <summary>The schema version this build writes.</summary>
    public const int Latest = 3;

    /// <summary>Creates the version table itself; safe to run any number of times.</summary>
    public const string CreateVersionTable = "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)";

    /// <summary>The statements that take a database from <c>version - 1</c> to <c>version</c>.</summary>
    public static IReadOnlyList<string> Migration(int version, SqlDialect dialect) => version switch
    {
        1 =>
        [
            $"""
            CREATE TABLE studies (
                id {dialect.IdColumn},
                name TEXT NOT NULL UNIQUE,
                direction TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                next_number BIGINT NOT NULL DEFAULT 0,
                budget_count BIGINT NOT NULL DEFAULT 0,
                change_seq BIGINT NOT NULL DEFAULT 0)
            """,
            """
            CREATE TABLE study_attributes (
                study_id BIGINT NOT NULL,
                system BIGINT NOT NULL,
                key TEXT NOT NULL,
                value_json TEXT NOT NULL,
                PRIMARY KEY (study_id, system, key))
            """,
            """
            CREATE TABLE study_enqueue_keys (
                study_id BIGINT NOT NULL,
                key TEXT NOT NULL,
                PRIMARY KEY (study_id, key))
            """,
            $"""
            CREATE TABLE trials (
                id {dialect.IdColumn},
                study_id BIGINT NOT NULL,
                number BIGINT NOT NULL,
                state TEXT NOT NULL,
                value DOUBLE PRECISION,
                worker TEXT,
                created_at BIGINT,
                started_at BIGINT,
                finished_at BIGINT,
                heartbeat_at BIGINT,
                version BIGINT NOT NULL,
                UNIQUE (study_id, number))
            """,
            "CREATE INDEX trials_by_study_state ON trials (study_id, state, number)",
            "CREATE INDEX trials_by_study_version ON trials (study_id, version)",
            // The surrogate id keeps parameters in the order they were drawn.
            $"""
            CREATE TABLE trial_params (
                id {dialect.IdColumn},
                trial_id BIGINT NOT NULL,
                name TEXT NOT NULL,
                value_json TEXT NOT NULL,
                distribution_json TEXT,
                UNIQUE (trial_id, name))
            """,
            // value is NULL for NaN: SQLite cannot store a NaN.
            """
            CREATE TABLE trial_intermediate (
                trial_id BIGINT NOT NULL,
                step BIGINT NOT NULL,
                value DOUBLE PRECISION,
                PRIMARY KEY (trial_id, step))
            """,
            """
            CREATE TABLE trial_attributes (
                trial_id BIGINT NOT NULL,
                system BIGINT NOT NULL,
                key TEXT NOT NULL,
                value_json TEXT NOT NULL,
                PRIMARY KEY (trial_id, system, key))
            """,
            """
            CREATE TABLE trial_metrics (
                trial_id BIGINT NOT NULL,
                name TEXT NOT NULL,
                value DOUBLE PRECISION,
                PRIMARY KEY (trial_id, name))
            """,
        ],
        2 when dialect == SqlDialect.PostgreSql =>
        [
            // Every change of a trial stamps the row with its transaction's id. A reader takes everything stamped after
            // the oldest transaction still running when it last read, so a write that commits late is never skipped and
            // no writer waits for another's commit. Writers ask for a stamp by setting version to -1 (SqlDialect.NewVersion);
            // a heartbeat leaves version alone, since pollers need not see it.
            """
            CREATE FUNCTION tunesmith_stamp_trial() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                IF TG_OP = 'INSERT' OR NEW.version <> OLD.version THEN
                    NEW.version := pg_current_xact_id()::text::bigint;
                END IF;
                RETURN NEW;
            END
            $fn$
            """,
            "CREATE TRIGGER trials_stamp BEFORE INSERT OR UPDATE ON trials FOR EACH ROW EXECUTE FUNCTION tunesmith_stamp_trial()",
            // Trials written before: stamped now, older than any cursor a reader of this schema will hold.
            "UPDATE trials SET version = -1",
        ],
        2 => [],
        // Every other metric of every report, by step (the study metric's series stays in trial_intermediate, which
        // schedulers read). A report writes its metrics in one statement; value is NULL for NaN, as elsewhere.
        3 =>
        [
            """
            CREATE TABLE trial_step_metrics (
                trial_id BIGINT NOT NULL,
                step BIGINT NOT NULL,
                name TEXT NOT NULL,
                value DOUBLE PRECISION,
                PRIMARY KEY (trial_id, name, step))
            """,
        ],
        _ => throw new ArgumentOutOfRangeException(nameof(version), version, "no such schema version"),
    };
}

using Microsoft.Extensions.Logging;
using Npgsql;

namespace TicketQueue.Grains.DomainEvents.Relay;

/// <summary>Partitions one relay just took or is about to give up, and those it owns afterwards.</summary>
public sealed record OutboxOwnershipChange(IReadOnlyList<int> Taken, IReadOnlyList<int> Released, IReadOnlyList<int> Owned);

/// <summary>
/// Which outbox partitions this relay ships: one PostgreSQL session of its own, holding a session-level
/// advisory lock <c>(LockClass, partition)</c> for each partition it owns. The locks live exactly as long
/// as the session, so when a silo dies its partitions become free and another relay takes them. The
/// relay reads and marks rows on this same session: a statement that succeeds on it ran while the
/// locks were held.
/// </summary>
/// <remarks>
/// Every relay also holds a shared "presence" lock <c>(PresenceClass, partitions)</c>. Counting them gives
/// the number of relays, so each takes a fair share (<c>ceil(partitions / relays)</c>) and gives up any
/// excess between rounds; seeing a presence lock with a different partition count means another silo
/// hashes aggregates differently, and then this relay ships nothing until they agree.
/// </remarks>
internal sealed class PartitionOwnership(NpgsqlDataSource database, int partitions, ILogger logger,
    Action<OutboxOwnershipChange> changed) : IAsyncDisposable
{
    /// <summary>The advisory lock class of outbox partitions (ASCII "tqob").</summary>
    public const int LockClass = 0x74716F62;

    /// <summary>The advisory lock class of relay presence (ASCII "tqop"); the object id is the partition count.</summary>
    public const int PresenceClass = 0x74716F70;

    // Advisory locks are per database, and pg_locks shows every database's: only this one's count.
    private const string LocksSql =
        """
        SELECT classid::bigint, objid::bigint, pid = pg_backend_pid()
        FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND objsubid = 2
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid::bigint IN ($1, $2)
        """;

    // A silo that vanishes without closing its connection (power loss, network partition) keeps its locks
    // until the server notices; with these probes on this session (they are per-session settings) that
    // takes about 25 s instead of the operating system's default of hours. Ignored over Unix sockets.
    private const string KeepaliveSql =
        """
        SELECT set_config('tcp_keepalives_idle', '10', false),
               set_config('tcp_keepalives_interval', '5', false),
               set_config('tcp_keepalives_count', '3', false)
        """;

    private readonly SortedSet<int> _owned = [];
    private NpgsqlConnection? _session;
    private bool _conflictReported;
    private volatile int[] _snapshot = [];

    /// <summary>The partitions owned now; safe to read from any thread.</summary>
    public IReadOnlyList<int> Owned => _snapshot;

    /// <summary>The session holding the locks; only valid while <see cref="Owned"/> is not empty.</summary>
    public NpgsqlConnection Session => _session ?? throw new InvalidOperationException("No ownership session is open.");

    /// <summary>Opens the session if needed, then takes partitions up to a fair share or gives up the excess.</summary>
    public async Task Rebalance(CancellationToken cancellationToken)
    {
        if (_session is null)
        {
            _session = await database.OpenConnectionAsync(cancellationToken);
            await using (var keepalive = new NpgsqlCommand(KeepaliveSql, _session))
            {
                await keepalive.ExecuteNonQueryAsync(cancellationToken);
            }

            await Scalar<bool>("SELECT pg_try_advisory_lock_shared($1, $2)", cancellationToken, PresenceClass, partitions);
        }

        var relays = 0;
        var conflicting = 0;
        var takenByOthers = new HashSet<int>();
        await using (var command = new NpgsqlCommand(LocksSql, _session))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = (long)LockClass });
            command.Parameters.Add(new NpgsqlParameter { Value = (long)PresenceClass });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var (lockClass, objectId, mine) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetBoolean(2));
                if (lockClass == PresenceClass && objectId == partitions)
                {
                    relays++;
                }
                else if (lockClass == PresenceClass)
                {
                    conflicting++;
                }
                else if (!mine)
                {
                    takenByOthers.Add((int)objectId);
                }
            }
        }

        if (conflicting > 0)
        {
            if (!_conflictReported)
            {
                logger.LogError("Another outbox relay uses a different TicketQueue:Events:Partitions than this one ({Partitions}); shipping nothing until every silo agrees",
                    partitions);
                _conflictReported = true;
            }

            await Release([.. _owned], cancellationToken);
            return;
        }

        _conflictReported = false;
        var fairShare = (partitions + Math.Max(relays, 1) - 1) / Math.Max(relays, 1);
        if (_owned.Count > fairShare)
        {
            await Release([.. _owned.Reverse().Take(_owned.Count - fairShare)], cancellationToken);
        }
        else if (_owned.Count < fairShare)
        {
            await Take(fairShare, takenByOthers, cancellationToken);
        }
    }

    /// <summary>
    /// Forgets everything after a failure on the session: gives the locks back if the session still works,
    /// and closes it. The next <see cref="Rebalance"/> starts a new session.
    /// </summary>
    public async Task Drop()
    {
        if (_session is null)
        {
            return;
        }

        var released = _owned.ToArray();
        _owned.Clear();
        _snapshot = [];
        if (released.Length > 0)
        {
            Publish([], released);
        }

        var session = _session;
        _session = null;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock_all()", session);
            await unlock.ExecuteNonQueryAsync(timeout.Token);
        }
        catch (Exception e)
        {
            logger.LogDebug(e, "Giving the outbox partition locks back failed; closing the session instead");
            // A pooled session that might still hold locks must not go back to the pool, where it would keep
            // them while idle: clearing the pool closes it when it is returned.
            NpgsqlConnection.ClearPool(session);
        }

        await session.DisposeAsync();
    }

    public async ValueTask DisposeAsync() => await Drop();

    private async Task Take(int fairShare, HashSet<int> takenByOthers, CancellationToken cancellationToken)
    {
        // In random order, so relays starting together do not all try the same partitions first.
        var candidates = Enumerable.Range(0, partitions).Where(p => !_owned.Contains(p) && !takenByOthers.Contains(p)).ToArray();
        Random.Shared.Shuffle(candidates);
        var taken = new List<int>();
        foreach (var partition in candidates)
        {
            if (_owned.Count >= fairShare)
            {
                break;
            }

            if (await Scalar<bool>("SELECT pg_try_advisory_lock($1, $2)", cancellationToken, LockClass, partition))
            {
                _owned.Add(partition);
                taken.Add(partition);
            }
        }

        if (taken.Count > 0)
        {
            _snapshot = [.. _owned];
            taken.Sort();
            logger.LogInformation("Outbox relay took partitions {Taken}; owns {Owned}", taken, _snapshot);
            Publish(taken, []);
        }
    }

    private async Task Release(int[] released, CancellationToken cancellationToken)
    {
        if (released.Length == 0)
        {
            return;
        }

        // Forgotten before the locks go, so nobody sees this relay owning what another one may already have.
        Array.Sort(released);
        _owned.ExceptWith(released);
        _snapshot = [.. _owned];
        logger.LogInformation("Outbox relay gives up partitions {Released}; owns {Owned}", released, _snapshot);
        Publish([], released);
        await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock($1, p) FROM unnest($2::int[]) AS p", Session);
        command.Parameters.Add(new NpgsqlParameter { Value = LockClass });
        command.Parameters.Add(new NpgsqlParameter { Value = released });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private void Publish(IReadOnlyList<int> taken, IReadOnlyList<int> released) => changed(new OutboxOwnershipChange(taken, released, _snapshot));

    private async Task<T> Scalar<T>(string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, Session);
        foreach (var value in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}

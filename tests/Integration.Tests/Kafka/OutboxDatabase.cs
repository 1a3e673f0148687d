using Npgsql;
using TicketQueue.Grains.Abstractions.DomainEvents;
using TicketQueue.Grains.DomainEvents;
using TicketQueue.Grains.DomainEvents.Relay;
using TicketQueue.Integration.Tests.Infrastructure;

namespace TicketQueue.Integration.Tests.Kafka;

/// <summary>One throwaway PostgreSQL server for the relay tests; each test gets a database of its own.</summary>
public sealed class OutboxServerFixture : IAsyncLifetime
{
    private PostgresServer? _server;
    private int _databases;

    public async ValueTask InitializeAsync() => _server = await PostgresServer.Start();

    public async Task<OutboxDatabase> NewDatabase() =>
        new(await (_server ?? throw new InvalidOperationException("Not started.")).CreateDatabase($"relay_{Interlocked.Increment(ref _databases)}"));

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>A database with init-db.sql applied, seen as the grains (appending) and an operator (looking) see it.</summary>
public sealed class OutboxDatabase(string connectionString) : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(connectionString);

    public string ConnectionString { get; } = connectionString;

    public NpgsqlDataSource DataSource => _dataSource;

    /// <summary>Appends the events as the grains do, one append at a time, in order.</summary>
    public async Task Append(IEnumerable<IReadOnlyList<DomainEvent>> appends)
    {
        var outbox = new PostgresOutbox(_dataSource);
        foreach (var events in appends)
        {
            await outbox.Append(events, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>
    /// Appends one row by hand, as no grain would: for events Kafka refuses (a payload over its size limit).
    /// </summary>
    public async Task<Guid> AppendRow(string aggregateType, string aggregateId, string eventType, string payloadJson)
    {
        var id = Guid.NewGuid();
        await using var command = _dataSource.CreateCommand(
            "INSERT INTO common.outbox_events (id, aggregate_type, aggregate_id, event_type, payload) VALUES ($1, $2, $3, $4, $5::jsonb)");
        foreach (var value in new object[] { id, aggregateType, aggregateId, eventType, payloadJson })
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        return id;
    }

    /// <summary>Appends <paramref name="count"/> queue events recorded <paramref name="age"/> ago, each of its own aggregate.</summary>
    public async Task AppendAged(int count, TimeSpan age)
    {
        await using var command = _dataSource.CreateCommand(
            """
            INSERT INTO common.outbox_events (id, aggregate_type, aggregate_id, event_type, payload, created_at)
            SELECT gen_random_uuid(), 'queue', 'aged-' || i, 'queue.joined', '{}'::jsonb, now() - $2
            FROM generate_series(1, $1) AS i
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = count });
        command.Parameters.Add(new NpgsqlParameter { Value = age });
        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }

    public async Task<long> RowCount()
    {
        await using var command = _dataSource.CreateCommand("SELECT count(*) FROM common.outbox_events");
        return (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }

    public async Task<bool> IsPublished(Guid id)
    {
        await using var command = _dataSource.CreateCommand("SELECT published FROM common.outbox_events WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        return (bool)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }

    public Task<OutboxLag> Lag() => OutboxLag.Measure(_dataSource, TestContext.Current.CancellationToken);

    public async Task<long> PublishedCount()
    {
        await using var command = _dataSource.CreateCommand("SELECT count(*) FROM common.outbox_events WHERE published");
        return (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }

    /// <summary>Ends every PostgreSQL session of the named application, as the death of its process would.</summary>
    public async Task<int> TerminateSessionsOf(string applicationName)
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()");
        command.Parameters.Add(new NpgsqlParameter { Value = applicationName });
        return (int)(long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}

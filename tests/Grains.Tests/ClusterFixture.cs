using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Orleans.TestingHost;
using TicketQueue.Grains.DomainEvents;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Queue;
using TicketQueue.Grains.Tests.Queue;
using TicketQueue.Grains.Tests.Reservations;
using Orleans.Storage;
using Orleans.Runtime.Hosting;

namespace TicketQueue.Grains.Tests;

/// <summary>
/// In-process silos (one, unless a derived fixture asks for more) with the grains exactly as
/// <see cref="SiloConfiguration.AddTicketQueueGrains"/> sets them up, and a fake clock the tests move by hand.
/// </summary>
/// <remarks>
/// In Orleans 10 grain timers run on the silo's <see cref="TimeProvider"/>, so the fake clock drives the
/// queue's admission ticks too: <see cref="FakeTimeProvider.Advance"/> queues every tick that falls due
/// on its grain before it returns. A grain handles one message at a time, so a call made after
/// <c>Advance</c> sees the state after that tick.
/// </remarks>
public class ClusterFixture : IAsyncLifetime
{
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(50);

    private InProcessTestCluster? _cluster;

    // Silo names in the order the silos were configured: a silo's index is its place here.
    private readonly List<string> _siloNames = [];

    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2030, 1, 1, 9, 0, 0, TimeSpan.Zero));

    /// <summary>Where the queue shards save places in line; tests can make its saves fail.</summary>
    public ControllableQueueEntryStore QueueRecords { get; }

    /// <summary>Makes writes of the reservation storage (seat blocks, reservations, users' lists) fail on demand.</summary>
    public StorageFaults StorageFaults { get; } = new();

    /// <summary>The embedded event sink: every domain event the grains recorded.</summary>
    public InProcessEventLog Events { get; } = new();

    /// <summary>Which calls about a user have reached their grain.</summary>
    public GrainCallWatch Calls { get; } = new();

    public ClusterFixture() => QueueRecords = new ControllableQueueEntryStore(Events);

    public InProcessTestCluster Cluster => _cluster ?? throw new InvalidOperationException("The cluster is not deployed.");

    public IGrainFactory Grains => Cluster.Client;

    public async ValueTask InitializeAsync()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["TicketQueue:Queue:TickInterval"] = TickInterval.ToString(),
            })
            .Build();

        var builder = new InProcessTestClusterBuilder(SiloCount);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((options, silo) =>
        {
            var index = SiloIndex(options.SiloName);

            // Registered before AddTicketQueueGrains, whose TryAdd then keeps it. Grains and their timers
            // follow this clock; Orleans' own machinery (membership, response timeouts, activation
            // collection, reminders) stays on real time, or a jump of the clock would time out calls.
            silo.Services.AddSingleton<TimeProvider>(ClockOf(index));
            silo.Services.AddSingleton<IQueueEntryStore>(QueueRecords);
            silo.Services.AddSingleton(Events);
            silo.Services.AddSingleton<IDomainEventOutbox>(Events);
            silo.AddIncomingGrainCallFilter(Calls);
            silo.AddOutgoingGrainCallFilter(Calls);
            silo.Services.UseTimeProviderForBackgroundAreas(TimeProvider.System);
            // The TestingHost brings its own membership and ports: AddTicketQueue's localhost
            // clustering would fight it, so only the grains part is added.
            silo.AddTicketQueueGrains(configuration);
            // Registered after the grains' own, so the reservation, queue, payment and account grains write through them.
            silo.Services.AddGrainStorage(StorageNames.Reservations,
                (services, name) => new FaultyGrainStorage(MemoryGrainStorageFactory.Create(services, name), StorageFaults));
            silo.Services.AddGrainStorage(StorageNames.Events,
                (services, name) => new FaultyGrainStorage(MemoryGrainStorageFactory.Create(services, name), StorageFaults));
            silo.Services.AddGrainStorage(StorageNames.Payments,
                (services, name) => new FaultyGrainStorage(MemoryGrainStorageFactory.Create(services, name), StorageFaults));
            silo.Services.AddGrainStorage(StorageNames.Accounts,
                (services, name) => new FaultyGrainStorage(MemoryGrainStorageFactory.Create(services, name), StorageFaults));
            ConfigureSilo(index, silo);
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync(TestContext.Current.CancellationToken);
        Deployed([.. _siloNames.Select(name => _cluster.Silos.Single(s => s.Name == name).SiloAddress)]);
    }

    // Silos may be configured at the same time: each name gets one index, whichever comes first.
    private int SiloIndex(string siloName)
    {
        lock (_siloNames)
        {
            var index = _siloNames.IndexOf(siloName);
            if (index < 0)
            {
                _siloNames.Add(siloName);
                index = _siloNames.Count - 1;
            }

            return index;
        }
    }

    /// <summary>How many silos the cluster has.</summary>
    protected virtual short SiloCount => 1;

    /// <summary>The clock the grains of silo <paramref name="silo"/> read (its index: the order the silos were configured in).</summary>
    protected virtual TimeProvider ClockOf(int silo) => Clock;

    /// <summary>Anything more a derived fixture's silos need, after the grains are added.</summary>
    protected virtual void ConfigureSilo(int silo, ISiloBuilder builder)
    {
    }

    /// <summary>Called once the cluster runs, with each silo's address by its index.</summary>
    protected virtual void Deployed(IReadOnlyList<SiloAddress> silos)
    {
    }

    public async ValueTask DisposeAsync()
    {
        if (_cluster is null)
        {
            return;
        }

        // The queue grain writes its state when it deactivates. The in-memory storage is itself made of
        // grains, which a stopping silo may deactivate first; the write then waits out the 30 s
        // deactivation timeout. Collecting every activation while the silo still runs avoids that.
        await _cluster.Client.GetGrain<IManagementGrain>(0)
            .ForceActivationCollection(TimeSpan.Zero, TestContext.Current.CancellationToken);
        await _cluster.DisposeAsync();
    }

    /// <summary>Creates an event of its own for one test, selling from the current fake time unless told otherwise.</summary>
    public async Task<EventDefinition> CreateEvent(
        QueueSettings? queue = null,
        TimeSpan? salesOpenIn = null,
        TimeSpan? startsIn = null,
        int ticketLimitPerUser = 4,
        int rows = 5,
        int seatsPerRow = 10,
        decimal price = TestEvents.Price)
    {
        var now = Clock.GetUtcNow();
        var definition = new EventDefinition(
            EventId: $"ev-{Guid.NewGuid():N}",
            Name: "Test concert",
            Venue: "Test hall",
            StartsAt: now + (startsIn ?? TimeSpan.FromDays(30)),
            SalesOpenAt: now + (salesOpenIn ?? TimeSpan.FromMinutes(-1)),
            Currency: TestEvents.Currency,
            TicketLimitPerUser: ticketLimitPerUser,
            Blocks: [new SeatBlockDefinition(TestEvents.BlockId, "Floor", rows, seatsPerRow, price)],
            Queue: queue ?? TestEvents.Settings());
        return await Grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key).Create(definition);
    }

    /// <summary>
    /// Reads until <paramref name="done"/> holds or the deadline passes, and returns the last value read
    /// so the caller's assertion shows what was there.
    /// </summary>
    public static async Task<T> Eventually<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)((timeout ?? TimeSpan.FromSeconds(10)).TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var value = await read();
            if (done(value) || Stopwatch.GetTimestamp() > deadline)
            {
                return value;
            }

            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }
}

public static class TestEvents
{
    public const string BlockId = "floor";
    public const string Currency = "KRW";
    public const decimal Price = 55_000m;

    public static QueueSettings Settings(
        int admissionsPerMinute = 60,
        int maxActiveShoppers = 1_000,
        TimeSpan? claimWindow = null,
        TimeSpan? shoppingSession = null,
        TimeSpan? holdDuration = null) =>
        new(admissionsPerMinute, maxActiveShoppers,
            claimWindow ?? TimeSpan.FromMinutes(2),
            shoppingSession ?? TimeSpan.FromMinutes(10),
            holdDuration ?? TimeSpan.FromMinutes(5));

    /// <summary>"A-1" for row 0, seat 1: the ids the seat block hands out.</summary>
    public static string SeatId(int row, int number) => $"{(char)('A' + row)}-{number}";
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}

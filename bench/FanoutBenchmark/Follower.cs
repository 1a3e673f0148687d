using System.Diagnostics;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace TicketQueue.FanoutBenchmark;

/// <summary>What the hub sends every follower of an event (src/Gateway/Queue/QueueHub.cs).</summary>
public sealed record CursorMessage(string EventId, long ServingCursor, long LastIssued, bool Opened, bool Paused, double AdmissionsPerMinute);

/// <summary>What Follow answers (the fields the benchmark reads).</summary>
public sealed record FollowResponse(string EventId, long? TicketNumber, long? Position, string Status, long ServingCursor);

/// <summary>One cursor message as one client received it, stamped on arrival with this process's Stopwatch.</summary>
public readonly record struct Receipt(long Timestamp, long ServingCursor, int AdmissionsPerMinute, bool Paused);

/// <summary>
/// One waiting user's browser tab: a SignalR connection to /hubs/queue opened the way the waiting page opens it
/// (WebSockets only, no negotiate request, the access token as the access_token query parameter), following
/// one event with the user's ticket. It logs every cursor message it receives.
/// </summary>
public sealed class Follower : IAsyncDisposable
{
    private readonly HubConnection _connection;
    private readonly Broadcasts _broadcasts;
    private readonly List<Receipt> _log = [];
    private int _admitted;
    private int _closed;

    private Follower(HubConnection connection, int index, Broadcasts broadcasts)
    {
        _connection = connection;
        Index = index;
        _broadcasts = broadcasts;
        _connection.On<CursorMessage>("Cursor", OnCursor);
        _connection.On<object>("Admitted", _ => Interlocked.Increment(ref _admitted));
        _connection.Closed += _ =>
        {
            Interlocked.Exchange(ref _closed, 1);
            return Task.CompletedTask;
        };
    }

    public int Index { get; }

    public long TicketNumber { get; private set; }

    /// <summary>"admitted" messages this user received (none are expected: the cursor stays below every follower).</summary>
    public int Admitted => Volatile.Read(ref _admitted);

    /// <summary>The connection closed while the benchmark still needed it.</summary>
    public bool Closed => Volatile.Read(ref _closed) == 1;

    public static async Task<Follower> Connect(Uri gateway, string accessToken, string eventId, string ticket, int index, Broadcasts broadcasts,
        CancellationToken cancellationToken)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(gateway, "/hubs/queue"), o =>
            {
                o.Transports = HttpTransportType.WebSockets;
                o.SkipNegotiation = true;
                o.AccessTokenProvider = () => Task.FromResult<string?>(accessToken);
            })
            .Build();
        var follower = new Follower(connection, index, broadcasts);
        try
        {
            await connection.StartAsync(cancellationToken);
            var place = await connection.InvokeAsync<FollowResponse>("Follow", eventId, ticket, cancellationToken);
            if (place.Status != "waiting" || place.TicketNumber is not { } number)
            {
                throw new InvalidOperationException($"Follow answered status '{place.Status}' for user {index}; expected waiting.");
            }

            follower.TicketNumber = number;
            return follower;
        }
        catch
        {
            await follower.DisposeAsync();
            throw;
        }
    }

    /// <summary>Every cursor message received so far, in order of arrival.</summary>
    public Receipt[] Log()
    {
        lock (_log)
        {
            return [.. _log];
        }
    }

    private void OnCursor(CursorMessage message)
    {
        var now = Stopwatch.GetTimestamp();
        var rate = (int)message.AdmissionsPerMinute;
        lock (_log)
        {
            _log.Add(new Receipt(now, message.ServingCursor, rate, message.Paused));
        }

        _broadcasts.Record(Index, rate, now);
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}

/// <summary>
/// The broadcasts the benchmark starts with an admin PUT, each named by the admission rate it sets: when each
/// client first heard each one, and which have reached every client.
/// </summary>
public sealed class Broadcasts
{
    private readonly int _clients;
    private readonly Dictionary<int, int> _roundOfRate;
    private readonly long[] _receipts;
    private readonly int[] _counts;
    private readonly TaskCompletionSource[] _complete;
    private readonly int _repeatingRate;
    private int _duplicates;

    /// <param name="clients">followers</param>
    /// <param name="rates">the rate each broadcast sets, one per broadcast, all different</param>
    /// <param name="repeatingRate">the rate the cursor moves at: after its broadcast, every tick repeats it (not a duplicate)</param>
    public Broadcasts(int clients, IReadOnlyList<int> rates, int repeatingRate)
    {
        _clients = clients;
        _roundOfRate = rates.Select((rate, round) => (rate, round)).ToDictionary(x => x.rate, x => x.round);
        _receipts = new long[rates.Count * clients];
        _counts = new int[rates.Count];
        _complete = [.. rates.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];
        _repeatingRate = repeatingRate;
    }

    /// <summary>Clients that received a broadcast they had already received.</summary>
    public int Duplicates => Volatile.Read(ref _duplicates);

    public void Record(int client, int rate, long timestamp)
    {
        if (!_roundOfRate.TryGetValue(rate, out var round))
        {
            return;
        }

        ref var cell = ref _receipts[round * _clients + client];
        if (cell != 0)
        {
            if (rate != _repeatingRate)
            {
                Interlocked.Increment(ref _duplicates);
            }

            return;
        }

        cell = timestamp;
        if (Interlocked.Increment(ref _counts[round]) == _clients)
        {
            _complete[round].TrySetResult();
        }
    }

    /// <summary>Completes when every client has received the broadcast.</summary>
    public Task Complete(int round) => _complete[round].Task;

    public int Received(int round) => Volatile.Read(ref _counts[round]);

    /// <summary>When the client first received the broadcast (a Stopwatch timestamp), or 0 if it has not.</summary>
    public long ReceiptOf(int round, int client) => Volatile.Read(ref _receipts[round * _clients + client]);
}

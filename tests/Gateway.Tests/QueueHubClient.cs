using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using TicketQueue.Gateway.Hosting;
using TicketQueue.Gateway.Queue;

namespace TicketQueue.Gateway.Tests;

/// <summary>A browser on /hubs/queue: it records what the hub pushes so tests can wait for it.</summary>
public sealed class QueueHubClient : IAsyncDisposable
{
    private readonly Channel<object> _messages = Channel.CreateUnbounded<object>();

    private QueueHubClient(HubConnection connection)
    {
        Connection = connection;
        connection.On<CursorMessage>(nameof(IQueueClient.Cursor), m => _messages.Writer.TryWrite(m));
        connection.On<AdmittedMessage>(nameof(IQueueClient.Admitted), m => _messages.Writer.TryWrite(m));
        connection.On<TicketAssignedMessage>(nameof(IQueueClient.TicketAssigned), m => _messages.Writer.TryWrite(m));
    }

    public HubConnection Connection { get; }

    /// <summary>Everything received so far, in order.</summary>
    public List<object> Received { get; } = [];

    /// <summary>
    /// Connects over WebSockets as a browser does: the negotiate call carries the token from the
    /// AccessTokenProvider as a header, the socket carries it in the query string.
    /// </summary>
    public static async Task<QueueHubClient> Connect(GatewayFactory factory, string? accessToken, CancellationToken ct)
    {
        var server = factory.Server;
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server.BaseAddress, "/hubs/queue"), o =>
            {
                o.Transports = HttpTransportType.WebSockets;
                o.AccessTokenProvider = () => Task.FromResult<string?>(accessToken);
                o.HttpMessageHandlerFactory = _ => server.CreateHandler();
                o.WebSocketFactory = async (context, token) =>
                {
                    var uri = accessToken is null
                        ? context.Uri
                        : new UriBuilder(context.Uri) { Query = context.Uri.Query.TrimStart('?') + "&access_token=" + Uri.EscapeDataString(accessToken) }.Uri;
                    return await server.CreateWebSocketClient().ConnectAsync(uri, token);
                };
            })
            .AddJsonProtocol(o => GatewayHosting.ConfigureJson(o.PayloadSerializerOptions))
            .Build();
        var client = new QueueHubClient(connection);
        await connection.StartAsync(ct);
        return client;
    }

    public Task<QueueResponse> Follow(string eventId, string ticket, CancellationToken ct) =>
        Connection.InvokeAsync<QueueResponse>("Follow", eventId, ticket, ct);

    /// <summary>Waits for the next message of this type that matches; earlier ones are kept in <see cref="Received"/>.</summary>
    public async Task<T> Next<T>(Func<T, bool> match, CancellationToken ct, TimeSpan? timeout = null)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout ?? TimeSpan.FromSeconds(15));
        try
        {
            while (true)
            {
                var message = await _messages.Reader.ReadAsync(deadline.Token);
                Received.Add(message);
                if (message is T typed && match(typed))
                {
                    return typed;
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"No matching {typeof(T).Name} arrived; received: {string.Join("; ", Received)}");
        }
    }

    /// <summary>Moves every message that arrived but was not read yet into <see cref="Received"/>, and returns it.</summary>
    public List<object> Drain()
    {
        while (_messages.Reader.TryRead(out var message))
        {
            Received.Add(message);
        }

        return Received;
    }

    public async ValueTask DisposeAsync() => await Connection.DisposeAsync();
}

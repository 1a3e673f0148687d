namespace TicketQueue.Browser.Tests.Infrastructure;

/// <summary>The page's WebSockets to the queue hub, passed through to the server and kept so a test can drop them.</summary>
public sealed class QueueSockets
{
    private readonly List<IWebSocketRoute> _sockets = [];

    public static async Task<QueueSockets> Watch(IPage page)
    {
        var watched = new QueueSockets();
        await page.RouteWebSocketAsync(new Regex("/hubs/queue"), ws =>
        {
            ws.ConnectToServer();
            lock (watched._sockets)
            {
                watched._sockets.Add(ws);
            }
        });
        return watched;
    }

    public int Count
    {
        get
        {
            lock (_sockets)
            {
                return _sockets.Count;
            }
        }
    }

    /// <summary>The one socket opened so far (the test fails if there are more or none).</summary>
    public IWebSocketRoute Single()
    {
        lock (_sockets)
        {
            return Assert.Single(_sockets);
        }
    }
}

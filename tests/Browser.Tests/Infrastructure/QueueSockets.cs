namespace TicketQueue.Browser.Tests.Infrastructure;

/// <summary>The page's WebSockets to the queue hub, passed through to the server and kept so a test can drop them.</summary>
public sealed class QueueSockets
{
    private readonly List<IWebSocketRoute> _sockets = [];

    /// <param name="page">The page whose sockets to watch.</param>
    /// <param name="lostOnTheWay">Hub messages from the server that never reach the page, as if lost with a connection.</param>
    public static async Task<QueueSockets> Watch(IPage page, Func<string, bool>? lostOnTheWay = null)
    {
        var watched = new QueueSockets();
        await page.RouteWebSocketAsync(new Regex("/hubs/queue"), ws =>
        {
            var server = ws.ConnectToServer();
            if (lostOnTheWay is not null)
            {
                // A frame may carry several hub messages, each ended by the record separator.
                server.OnMessage(frame =>
                {
                    if (frame.Text is not { } text)
                    {
                        ws.Send(frame.Binary ?? []);
                        return;
                    }

                    var kept = text.Split('\u001e', StringSplitOptions.RemoveEmptyEntries).Where(message => !lostOnTheWay(message)).ToList();
                    if (kept.Count > 0)
                    {
                        ws.Send(string.Concat(kept.Select(message => message + '\u001e')));
                    }
                });
            }

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

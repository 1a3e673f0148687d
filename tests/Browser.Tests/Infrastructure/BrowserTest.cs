namespace TicketQueue.Browser.Tests.Infrastructure;

/// <summary>
/// Base of a test class that looks at pages: each <see cref="NewPage"/> is a new visitor (own context),
/// closed after the test. An uncaught error in any of its pages fails the test. When a test fails,
/// every page it opened is saved to artifacts/screenshots as {Class}.{Method}-failed-{n}.png, and the
/// browser console errors and the gateway's last lines go to the test's output.
/// </summary>
public abstract class BrowserTest(GatewayServer gateway, BrowserSession browser) : IAsyncDisposable
{
    private readonly List<IBrowserContext> _contexts = [];
    private readonly List<string> _console = [];
    private readonly List<string> _pageErrors = [];

    protected GatewayServer Gateway => gateway;

    protected BrowserSession Browser => browser;

    protected Api Api => gateway.Api;

    protected static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    /// <summary>A page in a new browser context at the gateway; navigate with relative URLs: <c>page.GotoAsync("/health/live")</c>.</summary>
    protected async Task<IPage> NewPage(Screen? screen = null, string locale = "en-US")
    {
        var context = await browser.NewContext(gateway.Address, screen, locale);
        _contexts.Add(context);
        var page = await context.NewPageAsync();
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
            {
                Record($"console.{message.Type}: {message.Text}");
            }
        };
        page.PageError += (_, error) =>
        {
            Record($"page error: {error}");
            lock (_pageErrors)
            {
                _pageErrors.Add(error);
            }
        };
        return page;
    }

    /// <summary>Saves the whole page as artifacts/screenshots/{name}.png.</summary>
    protected static Task<string> Screenshot(IPage page, string name) => BrowserSession.Screenshot(page, name);

    private void Record(string line)
    {
        lock (_console)
        {
            _console.Add(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The test's result is known by the time its class is disposed.
        if (TestContext.Current.TestState?.Result == TestResult.Failed)
        {
            await SaveWhatFailed();
        }

        foreach (var context in _contexts)
        {
            await context.CloseAsync();
        }

        GC.SuppressFinalize(this);

        // An uncaught exception in a page is a bug even when the page looked right.
        lock (_pageErrors)
        {
            Assert.True(_pageErrors.Count == 0, "Uncaught errors in the page:\n" + string.Join('\n', _pageErrors));
        }
    }

    private async Task SaveWhatFailed()
    {
        var output = TestContext.Current.TestOutputHelper;
        var test = TestContext.Current.Test?.TestCase;
        var name = $"{test?.TestClassSimpleName ?? GetType().Name}.{test?.TestMethodName ?? "test"}-failed";
        var pages = _contexts.SelectMany(c => c.Pages).ToList();
        for (var i = 0; i < pages.Count; i++)
        {
            try
            {
                output?.WriteLine($"Screenshot of {pages[i].Url}: {await Screenshot(pages[i], $"{name}-{i + 1}")}");
            }
            catch (PlaywrightException e)
            {
                output?.WriteLine($"No screenshot of {pages[i].Url}: {e.Message}");
            }
        }

        lock (_console)
        {
            output?.WriteLine(_console.Count == 0 ? "The browser console had no errors." : string.Join('\n', _console));
        }

        output?.WriteLine($"--- gateway ---\n{gateway.Tail()}");
    }
}

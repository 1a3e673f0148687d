namespace TicketQueue.Browser.Tests.Infrastructure;

/// <summary>The size of the window a page is shown in; <see cref="Mobile"/> turns on touch and the meta viewport.</summary>
public sealed record Screen(int Width, int Height, bool Mobile)
{
    public static readonly Screen Phone = new(390, 844, Mobile: true);
    public static readonly Screen Desktop = new(1280, 800, Mobile: false);
}

/// <summary>
/// Debian's Chromium (apt-get install chromium), headless, driven by Playwright: launched once, and each
/// test gets isolated browser contexts of its own (no shared cookies or storage). Playwright never
/// downloads a browser here: the build only ships its driver, and this launches the system's binary.
/// </summary>
public sealed class BrowserSession : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: apt-get install chromium (scripts/test.sh installs it).");
        }

        // Only `playwright install` downloads, and nothing here runs it; this keeps it so should a driver try.
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        // Web assertions wait for the page to get there; a queue moves once a second, and two test
        // classes may share the machine's two cores with the gateway.
        SetDefaultExpectTimeout(30_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // Chromium refuses to start as root inside its sandbox; Playwright passes --no-sandbox when this is false.
            ChromiumSandbox = Environment.UserName != "root",
            // A container's /dev/shm is often 64 MB, too small for rendering full-page screenshots: use /tmp instead.
            Args = ["--disable-dev-shm-usage"],
        });
    }

    /// <summary>A fresh context (its own cookies, storage and cache) whose relative URLs go to <paramref name="baseUrl"/>.</summary>
    public Task<IBrowserContext> NewContext(Uri baseUrl, Screen? screen = null, string locale = "en-US")
    {
        screen ??= Screen.Desktop;
        return Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUrl.ToString(),
            ViewportSize = new ViewportSize { Width = screen.Width, Height = screen.Height },
            IsMobile = screen.Mobile,
            HasTouch = screen.Mobile,
            DeviceScaleFactor = screen.Mobile ? 2 : 1,
            Locale = locale,
            TimezoneId = "UTC",
        });
    }

    /// <summary>Saves the whole page as artifacts/screenshots/{name}.png (artifacts/ is not committed) and returns the path.</summary>
    public static async Task<string> Screenshot(IPage page, string name)
    {
        var folder = RepositoryPaths.File(Path.Combine("artifacts", "screenshots"));
        Directory.CreateDirectory(folder);
        var safeName = new string([.. name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-')]);
        var path = Path.Combine(folder, safeName + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
    }
}

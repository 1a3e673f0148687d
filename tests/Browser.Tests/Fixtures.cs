// One gateway process and one Chromium for the whole assembly: both take seconds to start, and
// every test isolates itself with its own users, events and browser context instead.
[assembly: AssemblyFixture(typeof(GatewayServer))]
[assembly: AssemblyFixture(typeof(BrowserSession))]

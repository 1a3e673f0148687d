using TicketQueue.Grains.Hosting;

// A standalone silo. The gateway can host the same silo in its own process (embedded mode); both
// configure it through AddTicketQueue, so grains are set up in one place.
var builder = Host.CreateApplicationBuilder(args);
builder.UseOrleans(silo => silo.AddTicketQueue(builder.Configuration));
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));

await builder.Build().RunAsync();

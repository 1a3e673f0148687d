using TicketQueue.Gateway.Admin;
using TicketQueue.Gateway.Auth;
using TicketQueue.Gateway.Events;
using TicketQueue.Gateway.Hosting;
using TicketQueue.Gateway.Problems;
using TicketQueue.Gateway.Queue;
using TicketQueue.Gateway.Reservations;

var builder = WebApplication.CreateBuilder(args);
builder.AddTicketQueueOrleans();
builder.AddTicketQueueAuth();
builder.AddTicketQueueApi();

var app = builder.Build();
app.UseForwardedHeaders();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseUtf8RequestBodies();
app.UseRequestBodyLimit();
app.UseWebFrontEnd();
app.UseAuthentication();
app.UseAuthorization();
app.UseRateLimiter();

app.MapOpenApi();
app.MapHealth();
app.MapAuthApi();
app.MapEventsApi();
app.MapQueueApi();
app.MapReservationsApi();
app.MapAdminApi();
app.MapHub<QueueHub>("/hubs/queue");

app.Lifetime.ApplicationStarted.Register(() => StartupBanner.Print(app));

app.Run();

public partial class Program;

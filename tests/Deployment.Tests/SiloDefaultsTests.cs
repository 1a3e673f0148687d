using System.Text.Json;

namespace TicketQueue.Deployment.Tests;

public sealed class SiloDefaultsTests
{
    [Fact]
    public void A_silo_creates_the_demo_events_only_where_it_is_told_to()
    {
        // A production silo (ECS, or anywhere appsettings.json is all it gets) must not put the demo events
        // on sale; the local stack asks for them in docker-compose.yml.
        var json = JsonDocument.Parse(Repository.Read("src/Silo/appsettings.json"),
            new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        Assert.False(json.RootElement.GetProperty("TicketQueue").GetProperty("SeedDemoData").GetBoolean());
        Assert.Contains("TicketQueue__SeedDemoData: \"true\"", Repository.Read("docker-compose.yml"), StringComparison.Ordinal);
    }
}

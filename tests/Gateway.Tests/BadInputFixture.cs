using System.Buffers.Text;
using System.IdentityModel.Tokens.Jwt;
using System.Security.Claims;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using TicketQueue.Gateway.Auth;
using TicketQueue.Gateway.Queue;

namespace TicketQueue.Gateway.Tests;

/// <summary>
/// A gateway with a little history that bad requests can aim at: two events, a user with a reservation
/// and admission to both, a second user with their own reservation and sandbox payment, and a user whose
/// first queue ticket went stale when they left and joined again.
/// </summary>
public sealed class BadInputFixture : GatewayFixture
{
    private Scene? _scene;

    public Scene Scene => _scene ?? throw new InvalidOperationException("The scene is not set up.");

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        _scene = await Scene.Create(Api, TestContext.Current.CancellationToken);
    }
}

[CollectionDefinition(Name)]
public sealed class BadInputCollection : ICollectionFixture<BadInputFixture>
{
    public const string Name = "bad-input";
}

public sealed class Scene
{
    private Scene()
    {
    }

    public required TestApi Api { get; init; }
    public required EventSpec Event { get; init; }
    public required EventSpec OtherEvent { get; init; }
    public required TestUser Admin { get; init; }

    /// <summary>The caller of most cases: admitted to both events, holds one reservation.</summary>
    public required TestUser Me { get; init; }
    public required TestUser Other { get; init; }
    public required TestUser Stale { get; init; }

    public required string MyAdmission { get; init; }
    public required string MyOtherEventAdmission { get; init; }
    public required string OtherUsersAdmission { get; init; }
    public required string MyTicket { get; init; }
    public required string MyOtherEventTicket { get; init; }
    public required string OtherUsersTicket { get; init; }
    public required string StaleTicket { get; init; }
    public required Guid MyReservation { get; init; }
    public required Guid OtherUsersReservation { get; init; }
    public required string OtherUsersPaymentId { get; init; }

    public QueueTokens Tokens => Api.Factory.Services.GetRequiredService<QueueTokens>();

    /// <summary>Tokens signed with a key the gateway does not know.</summary>
    public static QueueTokens ForgedTokens { get; } = new(
        Options.Create(new QueueTokenOptions { SigningKey = "an-attacker-key-that-is-long-enough-to-sign" }), TimeProvider.System);

    public static async Task<Scene> Create(TestApi api, CancellationToken ct)
    {
        var spec = new EventSpec();
        var other = new EventSpec();
        await api.CreateEvent(spec, ct);
        await api.CreateEvent(other, ct);
        var users = await api.RegisterMany(3, ct);
        var (me, them, stale) = (users[0], users[1], users[2]);

        var myTicket = (await me.Join(spec.EventId, ct)).Ticket;
        var myAdmission = (await me.AwaitAdmission(spec.EventId, ct)).AdmissionToken!;
        var myOtherTicket = (await me.Join(other.EventId, ct)).Ticket;
        var myOtherAdmission = (await me.AwaitAdmission(other.EventId, ct)).AdmissionToken!;
        var theirTicket = (await them.Join(spec.EventId, ct)).Ticket;
        var theirAdmission = (await them.AwaitAdmission(spec.EventId, ct)).AdmissionToken!;

        var staleTicket = (await stale.Join(spec.EventId, ct)).Ticket;
        await (await stale.Http.DeleteAsync($"/api/events/{spec.EventId}/queue/me", ct)).ShouldBe(HttpStatusCode.NoContent);
        await stale.Join(spec.EventId, ct);

        var mine = await me.ReserveOk(spec.EventId, myAdmission, new { blockId = spec.BlockId, quantity = 1 }, ct);
        var theirs = await them.ReserveOk(spec.EventId, theirAdmission, new { blockId = spec.BlockId, quantity = 1 }, ct);
        var theirPayment = await them.SandboxCheckout(theirs.ReservationId, ct);

        return new Scene
        {
            Api = api,
            Event = spec,
            OtherEvent = other,
            Admin = await api.Admin(ct),
            Me = me,
            Other = them,
            Stale = stale,
            MyAdmission = myAdmission,
            MyOtherEventAdmission = myOtherAdmission,
            OtherUsersAdmission = theirAdmission,
            MyTicket = myTicket,
            MyOtherEventTicket = myOtherTicket,
            OtherUsersTicket = theirTicket,
            StaleTicket = staleTicket,
            MyReservation = mine.ReservationId,
            OtherUsersReservation = theirs.ReservationId,
            OtherUsersPaymentId = theirPayment.PaymentId,
        };
    }

    /// <summary>Puts the scene's ids in place of {event}, {otherEvent}, {block}, {mine}, {theirs}, {theirPayment}.</summary>
    public string Fill(string template) => template
        .Replace("{event}", Event.EventId, StringComparison.Ordinal)
        .Replace("{otherEvent}", OtherEvent.EventId, StringComparison.Ordinal)
        .Replace("{block}", Event.BlockId, StringComparison.Ordinal)
        .Replace("{mine}", MyReservation.ToString(), StringComparison.Ordinal)
        .Replace("{theirs}", OtherUsersReservation.ToString(), StringComparison.Ordinal)
        .Replace("{theirPayment}", OtherUsersPaymentId, StringComparison.Ordinal);

    public string? AccessToken(Caller caller) => caller switch
    {
        Caller.Anonymous => null,
        Caller.User => Me.Tokens.AccessToken,
        Caller.Admin => Admin.Tokens.AccessToken,
        Caller.GarbageBearer => "garbage",
        Caller.TamperedJwt => Tampered(Me.Tokens.AccessToken),
        Caller.ForeignJwt => AccessToken("somebody-elses-signing-key-32-chars-or-more", DateTime.UtcNow.AddMinutes(10)),
        Caller.ExpiredJwt => AccessToken(Api.Factory.Setting("TicketQueue:Auth:SigningKey"), DateTime.UtcNow.AddMinutes(-5)),
        _ => throw new ArgumentOutOfRangeException(nameof(caller)),
    };

    public string? Admission(AdmissionKind kind) => kind switch
    {
        AdmissionKind.None => null,
        AdmissionKind.Valid => MyAdmission,
        AdmissionKind.Garbage => "not-a-token",
        AdmissionKind.TooLong => new string('a', 300) + "." + new string('b', 300),
        AdmissionKind.Tampered => Tampered(MyAdmission),
        AdmissionKind.Forged => ForgedTokens.SignAdmission(Event.EventId, Me.UserId, DateTimeOffset.UtcNow.AddMinutes(10)),
        AdmissionKind.Expired => Tokens.SignAdmission(Event.EventId, Me.UserId, DateTimeOffset.UtcNow.AddMinutes(-1)),
        AdmissionKind.OtherEvent => MyOtherEventAdmission,
        AdmissionKind.OtherUser => OtherUsersAdmission,
        AdmissionKind.QueueTicket => MyTicket,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>
    /// The token with one character of its signed payload changed, as a user editing their own token
    /// would do (for JWTs: the middle part, so the claims still parse).
    /// </summary>
    public static string Tampered(string token)
    {
        var parts = token.Split('.');
        var payloadIndex = parts.Length == 3 ? 1 : 0;
        var payload = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[payloadIndex]));
        // Bumping a digit keeps the payload well-formed; only the signature gives it away.
        var at = payload.IndexOfAny(['0', '1', '2', '3', '4', '5', '6', '7', '8']);
        payload = payload[..at] + (char)(payload[at] + 1) + payload[(at + 1)..];
        parts[payloadIndex] = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload));
        return string.Join('.', parts);
    }

    /// <summary>A well-formed access token for <see cref="Me"/>, claiming the admin role, signed with this key.</summary>
    private string AccessToken(string signingKey, DateTime expires)
    {
        var key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(signingKey));
        var token = new JwtSecurityToken("ticketqueue", "ticketqueue",
            [new Claim("sub", Me.UserId.ToString()), new Claim("role", Roles.Admin)],
            expires.AddMinutes(-15), expires, new SigningCredentials(key, SecurityAlgorithms.HmacSha256));
        return new JwtSecurityTokenHandler().WriteToken(token);
    }
}

public enum Caller
{
    Anonymous,
    User,
    Admin,
    GarbageBearer,
    TamperedJwt,
    ForeignJwt,
    ExpiredJwt,
}

public enum AdmissionKind
{
    None,
    Valid,
    Garbage,
    TooLong,
    Tampered,
    Forged,
    Expired,
    OtherEvent,
    OtherUser,
    QueueTicket,
}

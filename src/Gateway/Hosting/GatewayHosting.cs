using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.IdentityModel.Tokens;
using TicketQueue.Gateway.Auth;
using TicketQueue.Gateway.Events;
using TicketQueue.Gateway.Problems;
using TicketQueue.Gateway.Queue;
using TicketQueue.Grains.Abstractions.Accounts;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.Gateway.Hosting;

public static class RateLimits
{
    public const string Auth = "auth";

    /// <summary>
    /// Whose budget a request spends: an IPv4 address, or an IPv6 address's /64 (one subscriber is usually
    /// given a whole /64, so counting single addresses would give them 2^64 budgets).
    /// </summary>
    public static string ClientKey(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }
}

public static class GatewayHosting
{
    /// <summary>
    /// Embedded mode (the default): this process hosts a silo too, configured exactly like src/Silo.
    /// Cluster mode: this process is an Orleans client that finds the silos through Redis, and SignalR
    /// messages cross gateways through the same Redis.
    /// </summary>
    public static WebApplicationBuilder AddTicketQueueOrleans(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        if (ClusterSettings.Mode(configuration) == HostingMode.Embedded)
        {
            builder.UseOrleans(silo => silo.AddTicketQueue(configuration));
            return builder;
        }

        var redis = StackExchange.Redis.ConfigurationOptions.Parse(ClusterSettings.Redis(configuration));
        builder.UseOrleansClient(client =>
        {
            client.Configure<Orleans.Configuration.ClusterOptions>(o => ClusterSettings.ConfigureIdentity(o, configuration));
            client.UseRedisClustering(o => o.ConfigurationOptions = redis);
            client.Services.AddGrainInterfaceTypeCache();
            client.Configure<Orleans.Configuration.ClientMessagingOptions>(configuration.GetSection("Orleans:Messaging"));
            // A gateway may start before any silo: keep trying, and report not ready until connected.
            client.UseConnectionRetryFilter(async (_, cancellationToken) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                return true;
            });
        });
        builder.Services.AddSignalR().AddStackExchangeRedis(o =>
        {
            o.Configuration = redis.Clone();
            o.Configuration.ChannelPrefix = StackExchange.Redis.RedisChannel.Literal("ticketqueue-signalr");
        });
        return builder;
    }

    public static WebApplicationBuilder AddTicketQueueAuth(this WebApplicationBuilder builder)
    {
        var auth = builder.Configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
        var tokens = builder.Configuration.GetSection(QueueTokenOptions.Section).Get<QueueTokenOptions>() ?? new QueueTokenOptions();
        RequireSecret(builder.Environment, auth.SigningKey, $"{AuthOptions.Section}:SigningKey");
        RequireSecret(builder.Environment, tokens.SigningKey, $"{QueueTokenOptions.Section}:SigningKey");
        // Accepted and then failing at run time: every sign-in a 500 (no lifetime, no permits), or sessions
        // that end as soon as the access token does.
        RequireRange(auth.AccessTokenMinutes, 1, 24 * 60, $"{AuthOptions.Section}:AccessTokenMinutes");
        RequireRange(auth.RefreshTokenDays, 1, 365, $"{AuthOptions.Section}:RefreshTokenDays");
        RequireRange(builder.Configuration.GetValue("TicketQueue:RateLimits:AuthPerMinute", 60), 1, 1_000_000, "TicketQueue:RateLimits:AuthPerMinute");
        var admin = builder.Configuration.GetSection(AdminOptions.Section).Get<AdminOptions>() ?? new AdminOptions();
        if (!builder.Environment.IsDevelopment() && admin.Password.StartsWith(AuthOptions.DevelopmentMarker, StringComparison.Ordinal))
        {
            // The seeder would create an admin account whose password is in this repository.
            throw new InvalidOperationException(
                $"{AdminOptions.Section}:Password still has the development default; set a real password outside Development, or an empty one to seed no admin.");
        }

        if (admin.Password.Length is > 0 and (< AuthApi.MinPasswordLength or > AuthApi.MaxPasswordLength))
        {
            // Sign-in refuses such a password: the admin could never sign in.
            throw new InvalidOperationException(
                $"{AdminOptions.Section}:Password must be {AuthApi.MinPasswordLength} to {AuthApi.MaxPasswordLength} characters (is {admin.Password.Length}), or empty to seed no admin.");
        }

        builder.Services.Configure<AuthOptions>(builder.Configuration.GetSection(AuthOptions.Section));
        builder.Services.Configure<AdminOptions>(builder.Configuration.GetSection(AdminOptions.Section));
        builder.Services.Configure<QueueTokenOptions>(builder.Configuration.GetSection(QueueTokenOptions.Section));
        builder.Services.AddSingleton<IPasswordHasher<Account>, PasswordHasher<Account>>();
        builder.Services.AddSingleton<TokenService>();
        builder.Services.AddSingleton<QueueTokens>();
        builder.Services.AddHostedService<AdminAccountSeeder>();

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
        {
            o.MapInboundClaims = false;
            o.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = auth.Issuer,
                ValidAudience = auth.Audience,
                IssuerSigningKey = TokenService.KeyFrom(auth),
                NameClaimType = "sub",
                RoleClaimType = "role",
                ClockSkew = TimeSpan.FromSeconds(30),
            };
            o.Events = new JwtBearerEvents
            {
                // Browsers cannot set headers on WebSockets: the hub takes the token from the query.
                OnMessageReceived = context =>
                {
                    if (context.HttpContext.Request.Path.StartsWithSegments("/hubs") && context.Request.Query["access_token"] is [{ } token])
                    {
                        context.Token = token;
                    }

                    return Task.CompletedTask;
                },
                OnChallenge = async context =>
                {
                    context.HandleResponse();
                    await WriteProblem(context.HttpContext, 401, "unauthenticated", "Send a valid access token: Authorization: Bearer <token>.");
                },
                OnForbidden = context => WriteProblem(context.HttpContext, 403, "forbidden", "Your account may not do this."),
            };
        });
        builder.Services.AddAuthorizationBuilder().AddPolicy(Roles.AdminPolicy, p => p.RequireRole(Roles.Admin));

        // Behind a load balancer every request comes from the balancer: its X-Forwarded-For names the client,
        // and is believed only from the proxies and networks named here (loopback is always trusted).
        builder.Services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            foreach (var network in builder.Configuration.GetSection("TicketQueue:Proxies:KnownNetworks").Get<string[]>() ?? [])
            {
                o.KnownIPNetworks.Add(System.Net.IPNetwork.TryParse(network, out var parsed)
                    ? parsed
                    : throw new InvalidOperationException($"TicketQueue:Proxies:KnownNetworks has '{network}', which is no CIDR network (e.g. 10.0.0.0/16)."));
            }
        });

        var permitsPerMinute = builder.Configuration.GetValue("TicketQueue:RateLimits:AuthPerMinute", 60);
        builder.Services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.AddPolicy(RateLimits.Auth, http => RateLimitPartition.GetFixedWindowLimiter(
                RateLimits.ClientKey(http.Connection.RemoteIpAddress),
                _ => new FixedWindowRateLimiterOptions { PermitLimit = permitsPerMinute, Window = TimeSpan.FromMinutes(1) }));
            o.OnRejected = (context, _) =>
                new ValueTask(WriteProblem(context.HttpContext, 429, "too-many-requests", "Too many sign-in attempts; wait a minute."));
        });
        return builder;
    }

    private static void RequireRange(int value, int min, int max, string setting)
    {
        if (value < min || value > max)
        {
            throw new InvalidOperationException($"{setting} must be {min} to {max} (is {value}).");
        }
    }

    private static Task WriteProblem(HttpContext http, int status, string code, string detail)
    {
        http.Response.StatusCode = status;
        return http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = ProblemExceptionHandler.Create(status, code, detail, null),
        }).AsTask();
    }

    public static WebApplicationBuilder AddTicketQueueApi(this WebApplicationBuilder builder)
    {
        builder.Services.ConfigureHttpJsonOptions(o => ConfigureJson(o.SerializerOptions));
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ProblemExceptionHandler.AddMissingCode);
        // After ASP.NET Core's writer: it answers clients whose Accept header leaves JSON out.
        builder.Services.AddSingleton<IProblemDetailsWriter, ProblemJsonFallbackWriter>();
        builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
        builder.Services.AddOpenApi();
        builder.Services.TryAddSingletonTimeProvider();
        builder.Services.AddSingleton<EventCache>();
        builder.Services.AddSingleton<IUserIdProvider, SubjectUserIdProvider>();
        builder.Services.AddSingleton<QueueFanout>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<QueueFanout>());
        builder.Services.AddSignalR(o => o.AddFilter<ProblemHubFilter>()).AddJsonProtocol(o => ConfigureJson(o.PayloadSerializerOptions));
        // The JSON protocol, wrapped so that arguments SignalR cannot bind are refused with a code too. It
        // must stay after every AddSignalR call, which would register a plain one again (a test checks).
        builder.Services.RemoveAll<IHubProtocol>();
        builder.Services.AddSingleton<IHubProtocol>(sp =>
            new CodedBindingFailures(new JsonHubProtocol(sp.GetRequiredService<IOptions<JsonHubProtocolOptions>>())));
        builder.Services.AddSingleton<ReadinessState>();
        builder.Services.AddHostedService<ShutdownDrain>();
        builder.Services.AddHealthChecks()
            .AddCheck<ReadinessCheck>("ready", tags: ["ready"])
            .AddCheck<OutboxCheck>("outbox", tags: ["ready"]);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        return builder;
    }

    public static void ConfigureJson(JsonSerializerOptions json)
    {
        json.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        json.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        json.Converters.Add(new ExplicitOffsetConverter());
        // "3" is not a number: wrong-typed fields are refused, not coerced.
        json.NumberHandling = JsonNumberHandling.Strict;
        // A field given twice ("quantity":1,"Quantity":3) is refused, not decided by whichever came last:
        // a proxy reading the first would see another request than the one that runs. A field this
        // request does not have (a typo, "curency") is refused too, instead of silently taking the default.
        json.AllowDuplicateProperties = false;
        json.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
    }

    // {"status":"Healthy","checks":{"ready":{"status":"Healthy","description":...,"data":{...}},"outbox":{...}}}
    private static Task WriteHealth(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString(),
                description = e.Value.Description,
                data = e.Value.Data,
            }),
        });
    }

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder routes)
    {
        routes.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        routes.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = c => c.Tags.Contains("ready"),
            ResponseWriter = WriteHealth,
        });
        return routes;
    }

    private static void TryAddSingletonTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(s => s.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }

    private static void RequireSecret(IHostEnvironment environment, string value, string name)
    {
        if (value.Length < 32)
        {
            throw new InvalidOperationException($"{name} must be set to a secret of at least 32 characters.");
        }

        if (!environment.IsDevelopment() && value.StartsWith(AuthOptions.DevelopmentMarker, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{name} still has the development default; set a real secret outside Development.");
        }
    }
}

/// <summary>Readiness turns unhealthy as soon as shutdown starts, so load balancers stop sending work first.</summary>
public sealed class ReadinessState
{
    public volatile bool Stopping;
}

public sealed class ReadinessCheck(ReadinessState state, IGrainFactory grains) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (state.Stopping)
        {
            return HealthCheckResult.Unhealthy("shutting down");
        }

        try
        {
            // One cheap grain call proves the cluster answers.
            await grains.GetGrain<Grains.Abstractions.Events.IEventCatalogGrain>(EventCatalog.Key).List().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e)
        {
            return HealthCheckResult.Unhealthy("the Orleans cluster does not answer", e);
        }
    }
}

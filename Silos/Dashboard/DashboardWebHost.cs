using System.Net;
#if ORLEANS_DASHBOARD
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Dashboard;
#endif
using Microsoft.Extensions.Hosting;
using Orchestrator.Silos.Hosting;
using Orchestrator.Spec;

namespace Orchestrator.Silos.Dashboard;

/// <summary>
/// A silo host that also serves the Orleans dashboard (<c>Microsoft.Orleans.Dashboard</c>, which needs ASP.NET Core): the
/// same silo as <see cref="SiloSetup.BuildHost"/> builds, in an ASP.NET Core application with a bare Kestrel listening on
/// one endpoint and the dashboard's pages and JSON API mapped at <c>/</c>. Only <c>up</c> with a <c>dashboard</c> section
/// builds it: every other silo keeps the plain generic host, with no web server to start. A build with
/// <c>-p:OrleansDashboard=false</c> (the GPU check's pack, which runs <c>train</c> only) has neither the dashboard nor
/// ASP.NET Core; there a <c>dashboard</c> section is refused.
/// </summary>
public static class DashboardWebHost
{
    /// <summary>A host running one silo with <paramref name="settings"/> and the dashboard on <paramref name="endpoint"/> (not started).</summary>
    /// <exception cref="UserFacingException">This build has no dashboard.</exception>
    public static IHost Build(SiloSettings settings, IPEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(endpoint);
#if ORLEANS_DASHBOARD
        // The empty builder reads no appsettings, environment (ASPNETCORE_URLS) or command line: the silo config decides.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => kestrel.Listen(endpoint));
        builder.Services.AddRoutingCore();
        builder.UseOrleans(silo => SiloSetup.Configure(silo, settings));
        var app = builder.Build();
        app.MapOrleansDashboard();
        return app;
#else
        throw new UserFacingException("dashboard: this orchestrator was built without the Orleans dashboard (-p:OrleansDashboard=false); remove the dashboard section");
#endif
    }

    /// <summary>Registers the dashboard's silo side on <paramref name="silo"/> (its per-silo grain service and grain call
    /// profiler), so that a dashboard served by any silo of the cluster reports this one; nothing in a build without it.</summary>
    public static void Report(ISiloBuilder silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
#if ORLEANS_DASHBOARD
        silo.AddDashboard();
#endif
    }
}

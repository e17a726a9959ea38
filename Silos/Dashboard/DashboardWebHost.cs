using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.Silos.Hosting;
using Orleans.Dashboard;

namespace Orchestrator.Silos.Dashboard;

/// <summary>
/// A silo host that also serves the Orleans dashboard (<c>Microsoft.Orleans.Dashboard</c>, which needs ASP.NET Core): the
/// same silo as <see cref="SiloSetup.BuildHost"/> builds, in an ASP.NET Core application with a bare Kestrel listening on
/// one endpoint and the dashboard's pages and JSON API mapped at <c>/</c>. Only <c>up</c> with a <c>dashboard</c> section
/// builds it: every other silo keeps the plain generic host, with no web server to start.
/// </summary>
public static class DashboardWebHost
{
    /// <summary>A host running one silo with <paramref name="settings"/> and the dashboard on <paramref name="endpoint"/> (not started).</summary>
    public static IHost Build(SiloSettings settings, IPEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(endpoint);
        // The empty builder reads no appsettings, environment (ASPNETCORE_URLS) or command line: the silo config decides.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => kestrel.Listen(endpoint));
        builder.Services.AddRoutingCore();
        builder.UseOrleans(silo => SiloSetup.Configure(silo, settings));
        var app = builder.Build();
        app.MapOrleansDashboard();
        return app;
    }
}

namespace Orchestrator.Contracts; internal static class Placeholder {}

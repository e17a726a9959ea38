using k8s.Models;
using Orchestrator.Scheduler.Kubernetes;

namespace Orchestrator.Tests.Kubernetes;

/// <summary>Pod states as the API reports them -> what they mean for the job.</summary>
public sealed class PodHealthTests
{
    private static readonly DateTimeOffset Created = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(5);

    private static V1Pod Pod(string? phase, Action<V1PodStatus>? status = null)
    {
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "j-w0", CreationTimestamp = Created.UtcDateTime },
            Status = new V1PodStatus { Phase = phase },
        };
        status?.Invoke(pod.Status);
        return pod;
    }

    private static PodVerdict Judge(V1Pod pod, double minutes = 1) => PodHealth.Judge(pod, Created.AddMinutes(minutes), Deadline);

    [Fact]
    public void Running_with_a_ready_silo_and_an_ip_is_ready_and_anything_less_is_starting()
    {
        var ready = Pod("Running", s => { s.PodIP = "10.0.0.7"; s.Conditions = [new V1PodCondition { Type = "Ready", Status = "True" }]; });
        Assert.Equal(new PodVerdict.Ready("10.0.0.7"), Judge(ready));
        var notReady = Pod("Running", s => { s.PodIP = "10.0.0.7"; s.Conditions = [new V1PodCondition { Type = "Ready", Status = "False" }]; });
        Assert.Equal(new PodVerdict.Starting("running, its silo not ready yet (readiness /readyz)"), Judge(notReady));
        Assert.Equal(new PodVerdict.Starting("pending"), Judge(Pod("Pending")));
        var pulling = Pod("Pending", s => s.ContainerStatuses = [new V1ContainerStatus { Name = "worker", State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "ContainerCreating" } } }]);
        Assert.Equal(new PodVerdict.Starting("container waiting (ContainerCreating)"), Judge(pulling));
    }

    [Fact]
    public void Failures_name_the_pod_and_kubernetes_cause()
    {
        Assert.Equal(new PodVerdict.Failed("worker pod j-w0 was evicted: The node was low on resource: ephemeral-storage.", true),
            Judge(Pod("Failed", s => { s.Reason = "Evicted"; s.Message = "The node was low on resource: ephemeral-storage."; })));
        Assert.Equal(new PodVerdict.Failed("worker pod j-w0 failed: container worker exited with code 137 (OOMKilled)", true),
            Judge(Pod("Failed", s => s.ContainerStatuses = [new V1ContainerStatus { Name = "worker", State = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 137, Reason = "OOMKilled" } } }])));
        Assert.Equal(new PodVerdict.Failed("worker pod j-w0: its node lost contact with the cluster (phase Unknown)", true), Judge(Pod("Unknown")));
        Assert.Equal(new PodVerdict.Failed("worker pod j-w0 ended: its silo exited", true), Judge(Pod("Succeeded")));
        var deleting = Pod("Running");
        deleting.Metadata.DeletionTimestamp = Created.UtcDateTime;
        Assert.IsType<PodVerdict.Failed>(Judge(deleting));
    }

    [Theory]
    [InlineData("ErrImagePull", "cannot pull image reg/w:1")]
    [InlineData("ImagePullBackOff", "cannot pull image reg/w:1")]
    [InlineData("InvalidImageName", "cannot pull image reg/w:1")]
    [InlineData("CreateContainerConfigError", "cannot create its container")]
    public void Image_and_container_config_errors_are_not_retried(string reason, string what)
    {
        var pod = Pod("Pending", s => s.ContainerStatuses = [new V1ContainerStatus { Name = "worker", Image = "reg/w:1", State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = reason, Message = "details" } } }]);
        Assert.Equal(new PodVerdict.Failed($"worker pod j-w0 {what}: {reason}: details", false), Judge(pod));
    }

    [Fact]
    public void A_pod_pending_past_the_deadline_fails_with_what_it_waited_for_and_not_before()
    {
        var unschedulable = Pod("Pending", s => s.Conditions = [new V1PodCondition { Type = "PodScheduled", Status = "False", Reason = "Unschedulable", Message = "0/4 nodes are available: 4 Insufficient nvidia.com/gpu." }]);
        Assert.Equal(new PodVerdict.Starting("not scheduled (Unschedulable: 0/4 nodes are available: 4 Insufficient nvidia.com/gpu.)"), Judge(unschedulable, minutes: 4.9));
        Assert.Equal(new PodVerdict.Failed("worker pod j-w0 is not ready after 300 s (launcher.pending_deadline): not scheduled (Unschedulable: 0/4 nodes are available: 4 Insufficient nvidia.com/gpu.)", true),
            Judge(unschedulable, minutes: 5.1));
        Assert.IsType<PodVerdict.Ready>(PodHealth.Judge(
            Pod("Running", s => { s.PodIP = "10.0.0.1"; s.Conditions = [new V1PodCondition { Type = "Ready", Status = "True" }]; }), Created.AddHours(5), Deadline)); // ready pods have no deadline
    }
}

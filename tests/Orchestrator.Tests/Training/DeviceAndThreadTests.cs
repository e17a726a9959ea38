using Orchestrator.Spec;
using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Training;
using TorchSharp;

namespace Orchestrator.Tests.Training;

public sealed class DeviceAndThreadTests
{
    [Fact]
    public void Auto_takes_cuda_when_present_and_spreads_local_ranks_over_gpus()
    {
        Assert.Equal(DeviceType.CPU, DeviceSelector.Select(DeviceKind.Auto, 0, cudaAvailable: false, cudaDevices: 0).type);
        var gpu = DeviceSelector.Select(DeviceKind.Auto, 3, cudaAvailable: true, cudaDevices: 2);
        Assert.Equal(DeviceType.CUDA, gpu.type);
        Assert.Equal(1, gpu.index);
        Assert.Equal(DeviceType.CPU, DeviceSelector.Select(DeviceKind.Cpu, 0, cudaAvailable: true, cudaDevices: 2).type);
    }

    [Fact]
    public void Cuda_without_a_gpu_is_a_user_error()
    {
        var error = Assert.Throws<UserFacingException>(() => DeviceSelector.Select(DeviceKind.Cuda, 0, cudaAvailable: false, cudaDevices: 0));
        Assert.StartsWith("device:", error.Message);
    }

    [Fact]
    public void This_machine_without_cuda_selects_cpu_for_auto() =>
        Assert.Equal(torch.cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU, DeviceSelector.Select(DeviceKind.Auto).type);

    [Theory]
    [InlineData(0, 1, 16, 16)]
    [InlineData(0, 4, 16, 4)]
    [InlineData(0, 4, 2, 1)]
    [InlineData(3, 4, 2, 3)]
    public void Threads_default_to_the_worker_share_of_the_cores(int requested, int localWorkers, int cores, int expected) =>
        Assert.Equal(expected, ThreadBudget.Resolve(requested, localWorkers, cores));

    [Fact]
    public void Step_seeds_differ_by_step_and_rank_and_repeat_for_the_same_position()
    {
        var seeds = new HashSet<long>();
        for (int step = 0; step < 100; step++)
            for (int rank = 0; rank < 4; rank++)
                Assert.True(seeds.Add(StepSeed.For(1, step, rank)));
        Assert.Equal(StepSeed.For(5, 17, 2), StepSeed.For(5, 17, 2));
        Assert.All(seeds, s => Assert.True(s >= 0));
    }
}

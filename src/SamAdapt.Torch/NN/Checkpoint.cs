using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SamAdapt.Torch.Native;

namespace SamAdapt.Torch.NN;

/// <summary>
/// Gradient checkpointing (activation recomputation): the function runs without storing activations, and runs again
/// during backward — with the same RNG state, so dropout masks match — to compute gradients. Trades compute for memory.
/// </summary>
public static class Checkpoint
{
    /// <summary>Runs <paramref name="fn"/> checkpointed. Outside grad mode it simply calls fn.</summary>
    public static unsafe Tensor[] Run(Func<Tensor[], Tensor[]> fn, params Tensor[] inputs)
    {
        if (!torch.is_grad_enabled()) return fn(inputs);
        // A dummy input that requires grad guarantees an autograd node even when no real input requires grad
        // (frozen backbone, trainable adapters inside fn).
        using var dummy = torch.empty([0], DType.Float32, inputs.Length > 0 ? inputs[0].device : Device.CPU).requires_grad_().DetachFromScope();
        var all = new Tensor[inputs.Length + 1];
        inputs.CopyTo(all, 0);
        all[^1] = dummy;
        var state = GCHandle.Alloc(new State(fn, inputs.Length));
        Interlocked.Increment(ref _liveStates);
        var handles = new IntPtr[all.Length];
        for (int i = 0; i < all.Length; i++) handles[i] = all[i].Handle;
        var outs = new IntPtr[64];
        int n;
        fixed (IntPtr* hin = handles)
        fixed (IntPtr* hout = outs)
            n = TorchNative.sa_checkpoint(&Forward, &Release, GCHandle.ToIntPtr(state), hin, all.Length, hout, outs.Length);
        GC.KeepAlive(all);
        if (n < 0) TorchNative.Check();
        var result = new Tensor[n];
        for (int i = 0; i < n; i++) result[i] = new Tensor(outs[i]);
        return result;
    }

    /// <summary>Single-tensor convenience overload.</summary>
    public static Tensor Run(Func<Tensor, Tensor> fn, Tensor input) => Run(xs => [fn(xs[0])], input)[0];

    private sealed record State(Func<Tensor[], Tensor[]> Fn, int NumInputs);

    [UnmanagedCallersOnly]
    private static unsafe int Forward(IntPtr ctx, IntPtr* inputs, int nIn, IntPtr* outputs, int maxOut)
    {
        try
        {
            var state = (State)GCHandle.FromIntPtr(ctx).Target!;
            using var scope = DisposeScope.Begin();
            var args = new Tensor[state.NumInputs];
            for (int i = 0; i < state.NumInputs; i++) args[i] = new Tensor(TorchNative.CheckHandle(TorchNative.sa_tensor_alias(inputs[i])));
            Tensor[] outs;
            _running++;
            try { outs = state.Fn(args); }
            finally { _running--; }
            if (outs.Length > maxOut) return -1;
            for (int i = 0; i < outs.Length; i++) outputs[i] = TorchNative.CheckHandle(TorchNative.sa_tensor_alias(outs[i].Handle));
            return outs.Length;
        }
        catch (Exception e)
        {
            LastError = e;
            // tell the bridge why, so the TorchException raised by Run or backward() carries the managed error
            TorchNative.sa_set_error($"{e.GetType().Name}: {e.Message}");
            return -1;
        }
    }

    [UnmanagedCallersOnly]
    private static void Release(IntPtr ctx)
    {
        GCHandle.FromIntPtr(ctx).Free();
        Interlocked.Decrement(ref _liveStates);
    }

    private static long _liveStates;

    [ThreadStatic] private static int _running;

    /// <summary>
    /// True on this thread while a checkpointed function runs (its first pass without recording, or its recomputation in
    /// backward). Both passes must compute bit for bit the same function, so code with a faster inference-only kernel that
    /// rounds differently (the encoder attention, docs/sam.md) takes its autograd-capable form here.
    /// </summary>
    public static bool IsRunning => _running > 0;

    /// <summary>Checkpointed calls whose managed callback is still held by an autograd graph (for leak tests).</summary>
    internal static long LiveStates => Interlocked.Read(ref _liveStates);

    /// <summary>The managed exception behind the last failed recomputation on this thread (the native error says only that it failed).</summary>
    [ThreadStatic] public static Exception? LastError;
}

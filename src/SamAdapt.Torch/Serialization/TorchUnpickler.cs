using SamAdapt.Common;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace SamAdapt.Torch.Serialization;

/// <summary>
/// Unpickles <c>data.pkl</c> of a torch.save archive: resolves the few allowed globals, maps persistent ids to storages
/// and materialises every <c>_rebuild_tensor_v2(storage, offset, size, stride, ...)</c> view into a contiguous tensor.
/// </summary>
internal sealed class TorchUnpickler
{
    private readonly PthArchive _archive;
    private readonly bool _allowUnknownGlobals;
    private readonly Dictionary<string, StorageRef> _storages = new(StringComparer.Ordinal);
    private readonly List<HostTensor> _pending = new();

    public TorchUnpickler(PthArchive archive, bool allowUnknownGlobals)
    {
        _archive = archive;
        _allowUnknownGlobals = allowUnknownGlobals;
    }

    /// <summary>Storage classes by their name in the <c>torch</c> module.</summary>
    internal static readonly IReadOnlyDictionary<string, DType> StorageTypes = new Dictionary<string, DType>
    {
        ["FloatStorage"] = DType.Float32, ["HalfStorage"] = DType.Float16, ["BFloat16Storage"] = DType.BFloat16,
        ["DoubleStorage"] = DType.Float64, ["LongStorage"] = DType.Int64, ["IntStorage"] = DType.Int32,
        ["ShortStorage"] = DType.Int16, ["CharStorage"] = DType.Int8, ["ByteStorage"] = DType.UInt8, ["BoolStorage"] = DType.Bool,
    };

    /// <summary>Reads the whole object graph.</summary>
    public object? Load()
    {
        var pkl = _archive.ReadRecord("data.pkl", "the pickled object");
        var root = new PickleReader(pkl, "data.pkl", _archive.Path, FindGlobal, PersistentLoad).Load();
        Materialize();
        return root;
    }

    private object FindGlobal(string module, string name)
    {
        switch (module, name)
        {
            case ("collections", "OrderedDict"): return new Callable(OrderedDict);
            case ("torch._utils", "_rebuild_tensor_v2"): return new Callable(a => RebuildTensor(a, "_rebuild_tensor_v2", 6, 7));
            case ("torch._utils", "_rebuild_tensor"): return new Callable(a => RebuildTensor(a, "_rebuild_tensor", 4, 4));
            case ("torch._utils", "_rebuild_parameter"): return new Callable(a => RebuildParameter(a, 3));
            case ("torch._utils", "_rebuild_parameter_with_state"): return new Callable(a => RebuildParameter(a, 4));
            case ("torch", "Size"): return new Callable(a => a.Count == 1 && a[0] is PickleTuple t ? t : throw BadArgs("torch.Size", a));
            case ("builtins" or "__builtin__", "set" or "frozenset"):
                return new Callable(a => a.Count == 1 && a[0] is List<object?> l ? new HashSet<object?>(l) : throw BadArgs(name, a));
            case ("_codecs", "encode"): // how protocol 2 pickles Python 3 bytes
                return new Callable(a => a.Count == 2 && a[0] is string s && a[1] is "latin1" or "latin-1" ? Encoding.Latin1.GetBytes(s) : throw BadArgs("_codecs.encode", a));
        }
        if (module == "torch" && StorageTypes.TryGetValue(name, out var dtype)) return new StorageType(name, dtype);
        if (_allowUnknownGlobals) return new PickleGlobal(module, name);
        throw new NotSupportedException(
            $"unsupported global '{module}.{name}' in data.pkl of '{_archive.Path}': only tensors, storages, OrderedDict and plain " +
            "Python values can be loaded (pickled code is never executed); save a state_dict, or allow unknown globals to keep it as an opaque object");
    }

    private static PickleDict OrderedDict(PickleTuple args)
    {
        var d = new PickleDict(isOrderedDict: true);
        if (args.Count == 1 && args[0] is List<object?> pairs)
            foreach (var p in pairs)
                if (p is PickleTuple { Count: 2 } kv && kv[0] is { } k) d[k] = kv[1];
        return d;
    }

    private object PersistentLoad(object? pid)
    {
        if (pid is not PickleTuple { Count: 5 } t || t[0] is not "storage" || t[2] is not string key || t[3] is not string location || t[4] is not long numel)
            throw new InvalidDataException(
                $"unsupported persistent id {pid} in data.pkl of '{_archive.Path}', expected ('storage', <torch.XStorage>, key, location, numel)");
        if (t[1] is not StorageType type)
            throw new NotSupportedException($"storage '{key}' in '{_archive.Path}' has unsupported storage type {t[1]}");
        if (numel < 0) throw new InvalidDataException($"storage '{key}' in '{_archive.Path}' has negative size {numel}");
        if (_storages.TryGetValue(key, out var existing))
        {
            if (existing.Type != type || existing.Numel != numel)
                throw new NotSupportedException(
                    $"storage '{key}' in '{_archive.Path}' is used both as {existing.Type.Name}[{existing.Numel}] and {type.Name}[{numel}]");
            return existing;
        }
        var s = new StorageRef(key, type, location, numel);
        _storages.Add(key, s);
        return s;
    }

    private HostTensor RebuildTensor(PickleTuple a, string fn, int minArgs, int maxArgs)
    {
        if (a.Count < minArgs || a.Count > maxArgs || a[0] is not StorageRef storage || a[1] is not long offset
            || a[2] is not PickleTuple sizeT || a[3] is not PickleTuple strideT)
            throw BadArgs(fn, a);
        var shape = Longs(sizeT, fn, a);
        var stride = Longs(strideT, fn, a);
        if (shape.Length != stride.Length) throw BadArgs(fn, a);
        foreach (var s in shape) if (s < 0) throw BadArgs(fn, a);
        var t = new HostTensor(storage.Type.DType, shape)
        {
            RequiresGrad = a.Count > 4 && a[4] is true,
            Storage = new TensorStorageInfo(storage.Key, storage.Type.Name, storage.Location, storage.Numel, offset, stride),
        };
        _pending.Add(t);
        return t;
    }

    private HostTensor RebuildParameter(PickleTuple a, int args)
    {
        if (a.Count != args || a[0] is not HostTensor t || a[1] is not bool requiresGrad) throw BadArgs("_rebuild_parameter", a);
        t.RequiresGrad = requiresGrad;
        return t;
    }

    private long[] Longs(PickleTuple t, string fn, PickleTuple all)
    {
        var r = new long[t.Count];
        for (int i = 0; i < r.Length; i++) r[i] = t[i] is long v ? v : throw BadArgs(fn, all);
        return r;
    }

    private InvalidDataException BadArgs(string fn, PickleTuple args) =>
        new($"unexpected arguments to {fn} in data.pkl of '{_archive.Path}': {args}");

    /// <summary>Reads each referenced storage once and fills every tensor that views it.</summary>
    private void Materialize()
    {
        bool bigEndian = false;
        if (_archive.HasRecord("byteorder"))
        {
            var order = Encoding.ASCII.GetString(_archive.ReadRecord("byteorder", "byte order")).Trim();
            bigEndian = order switch
            {
                "little" => false,
                "big" => true,
                _ => throw new InvalidDataException($"record '{_archive.Prefix}/byteorder' of '{_archive.Path}' is '{order}', expected 'little' or 'big'"),
            };
        }

        foreach (var group in _pending.GroupBy(t => t.Storage!.StorageKey))
        {
            var storage = _storages[group.Key];
            int es = storage.Type.DType.ElementSize();
            long expectedBytes = ResourceLimits.Check($"storage '{storage.Key}' ({storage.Numel} elements) in '{_archive.Path}'", storage.Numel, es);
            var buffer = _archive.ReadRecord("data/" + storage.Key,
                $"storage '{storage.Key}': {storage.Type.Name} of {storage.Numel} elements × {es} bytes", expectedBytes);
            if (bigEndian) SwapBytes(buffer, es);
            var views = group.ToList();
            foreach (var t in views)
            {
                var info = t.Storage!;
                if (info.StorageOffset < 0 || info.Stride.Any(s => s < 0) || StridedCopy.Extent(t.Shape, info.Stride, info.StorageOffset) > storage.Numel)
                    throw new InvalidDataException(
                        $"tensor view (offset {info.StorageOffset}, size {HostTensor.FormatShape(t.Shape)}, stride {HostTensor.FormatShape(info.Stride)}) " +
                        $"lies outside storage '{storage.Key}' of {storage.Numel} elements in '{_archive.Path}'");
                if (views.Count == 1 && info.StorageOffset == 0 && t.Numel == storage.Numel && info.IsContiguous(t.Shape))
                {
                    t.SetData(buffer); // sole owner of the whole storage: no copy
                    continue;
                }
                var data = new byte[ResourceLimits.Check($"tensor {HostTensor.FormatShape(t.Shape)} in '{_archive.Path}'", t.Numel, es)];
                StridedCopy.Gather(buffer, es, info.StorageOffset, t.Shape, info.Stride, data);
                t.SetData(data);
            }
        }
    }

    private static void SwapBytes(byte[] buffer, int elemSize)
    {
        switch (elemSize)
        {
            case 2: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ushort>(buffer.AsSpan()), MemoryMarshal.Cast<byte, ushort>(buffer.AsSpan())); break;
            case 4: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, uint>(buffer.AsSpan()), MemoryMarshal.Cast<byte, uint>(buffer.AsSpan())); break;
            case 8: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ulong>(buffer.AsSpan()), MemoryMarshal.Cast<byte, ulong>(buffer.AsSpan())); break;
        }
    }

    private sealed class Callable(Func<PickleTuple, object?> f) : IPickleCallable
    {
        public object? Call(PickleTuple args) => f(args);
    }

    private sealed record StorageType(string Name, DType DType)
    {
        public override string ToString() => "torch." + Name;
    }

    private sealed record StorageRef(string Key, StorageType Type, string Location, long Numel);
}

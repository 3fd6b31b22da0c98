using System.Buffers.Binary;
using System.Collections;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;

namespace SamAdapt.Torch.Serialization;

/// <summary>
/// Writes an object graph as a protocol-2 pickle the way <c>torch.save</c> does: tensors become
/// <c>torch._utils._rebuild_tensor_v2</c> calls on persistent-id storages, state dicts become <c>OrderedDict</c>s.
/// </summary>
internal sealed class PickleWriter
{
    private const int BatchSize = 1000;
    private readonly MemoryStream _buf = new();
    private readonly Func<HostTensor, string> _storageKey;
    private readonly Dictionary<object, int> _objectMemo = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, int> _stringMemo = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _globalMemo = new(StringComparer.Ordinal);
    private int _nextMemo;

    /// <param name="storageKey">Assigns the storage key (the <c>data/&lt;key&gt;</c> record) of a tensor.</param>
    public PickleWriter(Func<HostTensor, string> storageKey) => _storageKey = storageKey;

    /// <summary>Pickles <paramref name="root"/>.</summary>
    public byte[] Write(object? root)
    {
        _buf.WriteByte(0x80);
        _buf.WriteByte(2);
        WriteValue(root);
        _buf.WriteByte((byte)'.');
        return _buf.ToArray();
    }

    private void WriteValue(object? v)
    {
        switch (v)
        {
            case null: Op('N'); break;
            case bool b: _buf.WriteByte(b ? (byte)0x88 : (byte)0x89); break;
            case sbyte or byte or short or ushort or int or uint or long: WriteInt(Convert.ToInt64(v)); break;
            case ulong u: if (u <= long.MaxValue) WriteInt((long)u); else WriteBigInt(u); break;
            case BigInteger big: if (big >= long.MinValue && big <= long.MaxValue) WriteInt((long)big); else WriteBigInt(big); break;
            case double d: WriteFloat(d); break;
            case float f: WriteFloat(f); break;
            case Half h: WriteFloat((double)h); break;
            case string s: WriteString(s); break;
            case HostTensor t: WriteTensor(t); break;
            case byte[] bytes: WriteBytes(bytes); break;
            case PickleTuple tup: WriteTuple(tup); break;
            case ITuple vt: WriteTuple(Enumerable.Range(0, vt.Length).Select(i => vt[i]).ToArray()); break;
            case IDictionary dict: WriteDict(dict); break;
            case IList list: WriteList(list); break;
            default:
                throw new NotSupportedException(
                    $"cannot write a {v.GetType().Name} to a .pth file; supported: dictionaries, lists, tuples, strings, numbers, bool, null, byte[] and HostTensor");
        }
    }

    private void WriteInt(long v)
    {
        if (v is >= 0 and <= 0xFF) { Op('K'); _buf.WriteByte((byte)v); }
        else if (v is >= 0 and <= 0xFFFF) { Op('M'); Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v); _buf.Write(b); }
        else if (v is >= int.MinValue and <= int.MaxValue) { Op('J'); Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, (int)v); _buf.Write(b); }
        else WriteBigInt(v);
    }

    private void WriteBigInt(BigInteger v)
    {
        var bytes = v.ToByteArray(isUnsigned: false, isBigEndian: false); // minimal two's complement, as pickle's LONG1
        if (bytes.Length < 256) { _buf.WriteByte(0x8a); _buf.WriteByte((byte)bytes.Length); }
        else { _buf.WriteByte(0x8b); WriteU32((uint)bytes.Length); }
        _buf.Write(bytes);
    }

    private void WriteFloat(double d)
    {
        Op('G');
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(b, d);
        _buf.Write(b);
    }

    private void WriteString(string s)
    {
        if (_stringMemo.TryGetValue(s, out int idx)) { Get(idx); return; }
        var bytes = Encoding.UTF8.GetBytes(s);
        Op('X');
        WriteU32((uint)bytes.Length);
        _buf.Write(bytes);
        _stringMemo[s] = Put();
    }

    /// <summary>Protocol 2 has no bytes opcode; Python writes <c>_codecs.encode(latin1_text, 'latin1')</c>.</summary>
    private void WriteBytes(byte[] bytes)
    {
        if (_objectMemo.TryGetValue(bytes, out int idx)) { Get(idx); return; }
        WriteGlobal("_codecs", "encode");
        WriteString(Encoding.Latin1.GetString(bytes));
        WriteString("latin1");
        _buf.WriteByte(0x86); // TUPLE2
        Op('R');
        _objectMemo[bytes] = Put();
    }

    private void WriteTuple(IReadOnlyList<object?> items)
    {
        switch (items.Count)
        {
            case 0: Op(')'); return;
            case <= 3:
                foreach (var x in items) WriteValue(x);
                _buf.WriteByte((byte)(0x84 + items.Count)); // TUPLE1..TUPLE3
                return;
            default:
                Op('(');
                foreach (var x in items) WriteValue(x);
                Op('t');
                return;
        }
    }

    private void WriteList(IList list)
    {
        if (_objectMemo.TryGetValue(list, out int idx)) { Get(idx); return; }
        Op(']');
        _objectMemo[list] = Put();
        for (int start = 0; start < list.Count; start += BatchSize)
        {
            Op('(');
            for (int i = start; i < Math.Min(list.Count, start + BatchSize); i++) WriteValue(list[i]);
            Op('e');
        }
    }

    private void WriteDict(IDictionary dict)
    {
        if (_objectMemo.TryGetValue(dict, out int idx)) { Get(idx); return; }
        bool ordered = dict is PickleDict pd ? pd.IsOrderedDict : dict.Count > 0 && dict.Values.Cast<object?>().All(x => x is HostTensor);
        if (ordered)
        {
            WriteGlobal("collections", "OrderedDict");
            Op(')');
            Op('R');
        }
        else Op('}');
        _objectMemo[dict] = Put();

        int n = 0;
        foreach (DictionaryEntry kv in dict)
        {
            if (n % BatchSize == 0) { if (n > 0) Op('u'); Op('('); }
            WriteValue(kv.Key);
            WriteValue(kv.Value);
            n++;
        }
        if (n > 0) Op('u');
    }

    private void WriteTensor(HostTensor t)
    {
        if (_objectMemo.TryGetValue(t, out int idx)) { Get(idx); return; }
        var storageType = TorchUnpickler.StorageTypes.First(kv => kv.Value == t.DType).Key;
        WriteGlobal("torch._utils", "_rebuild_tensor_v2");
        Op('(');
        // persistent id ('storage', torch.XStorage, key, 'cpu', numel)
        Op('(');
        WriteString("storage");
        WriteGlobal("torch", storageType);
        WriteString(_storageKey(t));
        WriteString("cpu");
        WriteInt(t.Numel);
        Op('t');
        Op('Q');
        WriteInt(0); // storage offset
        WriteTuple(t.Shape.Select(x => (object?)x).ToArray());
        WriteTuple(ContiguousStrides(t.Shape).Select(x => (object?)x).ToArray());
        _buf.WriteByte(t.RequiresGrad ? (byte)0x88 : (byte)0x89);
        WriteGlobal("collections", "OrderedDict"); // backward hooks: empty OrderedDict
        Op(')');
        Op('R');
        Op('t');
        Op('R');
        _objectMemo[t] = Put();
    }

    /// <summary>PyTorch's contiguous strides (a size-0 dimension counts as 1, as in <c>torch.empty</c>).</summary>
    internal static long[] ContiguousStrides(long[] shape)
    {
        var stride = new long[shape.Length];
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            stride[i] = s;
            s *= Math.Max(shape[i], 1);
        }
        return stride;
    }

    private void WriteGlobal(string module, string name)
    {
        var key = module + "\n" + name + "\n";
        if (_globalMemo.TryGetValue(key, out int idx)) { Get(idx); return; }
        Op('c');
        _buf.Write(Encoding.ASCII.GetBytes(key));
        _globalMemo[key] = Put();
    }

    private int Put()
    {
        int idx = _nextMemo++;
        if (idx < 256) { Op('q'); _buf.WriteByte((byte)idx); }
        else { Op('r'); WriteU32((uint)idx); }
        return idx;
    }

    private void Get(int idx)
    {
        if (idx < 256) { Op('h'); _buf.WriteByte((byte)idx); }
        else { Op('j'); WriteU32((uint)idx); }
    }

    private void WriteU32(uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        _buf.Write(b);
    }

    private void Op(char c) => _buf.WriteByte((byte)c);
}

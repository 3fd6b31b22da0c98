using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace SamAdapt.Torch.Serialization;

/// <summary>Something a pickle REDUCE/NEWOBJ may call: only the few constructors the loader chooses to understand.</summary>
internal interface IPickleCallable
{
    /// <summary>Builds the object for <c>callable(*args)</c>.</summary>
    object? Call(PickleTuple args);
}

/// <summary>
/// A non-executing unpickler for the binary pickle protocols (2, plus the protocol 3–5 opcodes PyTorch files may use).
/// Globals are resolved by a caller-supplied function that returns data objects or <see cref="IPickleCallable"/>s;
/// nothing is ever imported or run. Produces <see cref="PickleDict"/>, <see cref="List{T}"/>, <see cref="PickleTuple"/>,
/// string, long/<see cref="BigInteger"/>, double, bool, byte[], null and whatever the callables return.
/// </summary>
internal sealed class PickleReader
{
    private static readonly object Mark = new();

    private readonly byte[] _data;
    private readonly string _name;
    private readonly string _file;
    private readonly Func<string, string, object> _findGlobal;
    private readonly Func<object?, object?> _persistentLoad;
    private readonly List<object?> _stack = new();
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = new();
    private int _pos;

    /// <param name="data">The pickle bytes.</param>
    /// <param name="name">The record name for messages, e.g. <c>data.pkl</c>.</param>
    /// <param name="file">The containing file for messages.</param>
    /// <param name="findGlobal">Maps (module, name) to an object; throws for globals that are not allowed.</param>
    /// <param name="persistentLoad">Maps a persistent id to an object.</param>
    public PickleReader(byte[] data, string name, string file, Func<string, string, object> findGlobal, Func<object?, object?> persistentLoad)
    {
        _data = data;
        _name = name;
        _file = file;
        _findGlobal = findGlobal;
        _persistentLoad = persistentLoad;
    }

    /// <summary>Runs the pickle program up to STOP and returns the result.</summary>
    public object? Load()
    {
        while (true)
        {
            int opPos = _pos;
            byte op = ReadByte("an opcode");
            switch (op)
            {
                case 0x80: // PROTO
                    {
                        int proto = ReadByte("PROTO version");
                        if (proto > 5) throw Bad($"unsupported pickle protocol {proto} at byte {opPos}");
                        break;
                    }
                case 0x95: ReadBytes(8, "FRAME length"); break; // FRAME: framing is only a read-ahead hint
                case (byte)'.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0)
                        throw Bad($"STOP at byte {opPos} with {_stack.Count} objects on the stack (expected 1)");
                    return _stack[0];

                // ----- constants -----
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'K': Push((long)ReadByte("BININT1")); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2, "BININT2"))); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4, "BININT"))); break;
                case 0x8a: Push(ReadLong(ReadByte("LONG1 length"), "LONG1")); break;
                case 0x8b: Push(ReadLong(ReadLength(4, "LONG4"), "LONG4")); break;
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8, "BINFLOAT"))); break;

                // ----- strings and bytes -----
                case (byte)'X': Push(ReadUtf8(ReadLength(4, "BINUNICODE"), "BINUNICODE")); break;
                case 0x8c: Push(ReadUtf8(ReadByte("SHORT_BINUNICODE length"), "SHORT_BINUNICODE")); break;
                case 0x8d: Push(ReadUtf8(ReadLength(8, "BINUNICODE8"), "BINUNICODE8")); break;
                case (byte)'T': Push(ReadUtf8(ReadLength(4, "BINSTRING"), "BINSTRING")); break;
                case (byte)'U': Push(ReadUtf8(ReadByte("SHORT_BINSTRING length"), "SHORT_BINSTRING")); break;
                case (byte)'C': Push(ReadBytes(ReadByte("SHORT_BINBYTES length"), "SHORT_BINBYTES").ToArray()); break;
                case (byte)'B': Push(ReadBytes(ReadLength(4, "BINBYTES"), "BINBYTES").ToArray()); break;
                case 0x8e: Push(ReadBytes(ReadLength(8, "BINBYTES8"), "BINBYTES8").ToArray()); break;

                // ----- containers -----
                case (byte)'(': _marks.Push(_stack.Count); _stack.Add(Mark); break;
                case (byte)')': Push(PickleTuple.Empty); break;
                case (byte)'t': Push(PickleTuple.Wrap(PopMark(opPos))); break;
                case 0x85: { var a = Pop(opPos); Push(new PickleTuple(a)); break; }
                case 0x86: { var b = Pop(opPos); var a = Pop(opPos); Push(new PickleTuple(a, b)); break; }
                case 0x87: { var c = Pop(opPos); var b = Pop(opPos); var a = Pop(opPos); Push(new PickleTuple(a, b, c)); break; }
                case (byte)']': Push(new List<object?>()); break;
                case (byte)'l': Push(new List<object?>(PopMark(opPos))); break;
                case (byte)'a': { var v = Pop(opPos); AsList(Peek(opPos), opPos).Add(v); break; }
                case (byte)'e': { var items = PopMark(opPos); AsList(Peek(opPos), opPos).AddRange(items); break; }
                case (byte)'}': Push(new PickleDict()); break;
                case (byte)'d': { var items = PopMark(opPos); var d = new PickleDict(); SetItems(d, items, opPos); Push(d); break; }
                case (byte)'s': { var v = Pop(opPos); var k = Pop(opPos); SetItems(AsDict(Peek(opPos), opPos), [k, v], opPos); break; }
                case (byte)'u': { var items = PopMark(opPos); SetItems(AsDict(Peek(opPos), opPos), items, opPos); break; }
                case 0x8f: Push(new HashSet<object?>()); break;
                case 0x90:
                    {
                        var items = PopMark(opPos);
                        if (Peek(opPos) is not HashSet<object?> set) throw Bad($"ADDITEMS at byte {opPos} on a {TypeName(Peek(opPos))}, expected a set");
                        foreach (var x in items) set.Add(x);
                        break;
                    }
                case 0x91: Push(new HashSet<object?>(PopMark(opPos))); break;

                // ----- stack and memo -----
                case (byte)'0': Pop(opPos); break;
                case (byte)'1': PopMark(opPos); break;
                case (byte)'2': Push(Peek(opPos)); break;
                case (byte)'q': _memo[ReadByte("BINPUT index")] = Peek(opPos); break;
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4, "LONG_BINPUT index"))] = Peek(opPos); break;
                case 0x94: _memo[_memo.Count] = Peek(opPos); break;
                case (byte)'p': _memo[ReadDecimalLine("PUT index")] = Peek(opPos); break;
                case (byte)'h': Push(MemoGet(ReadByte("BINGET index"), opPos)); break;
                case (byte)'j': Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4, "LONG_BINGET index")), opPos)); break;
                case (byte)'g': Push(MemoGet(ReadDecimalLine("GET index"), opPos)); break;

                // ----- objects -----
                case (byte)'c':
                    {
                        var module = ReadLine("GLOBAL module");
                        var name = ReadLine("GLOBAL name");
                        Push(_findGlobal(module, name));
                        break;
                    }
                case 0x93: // STACK_GLOBAL
                    {
                        var name = Pop(opPos) as string;
                        var module = Pop(opPos) as string;
                        if (module is null || name is null) throw Bad($"STACK_GLOBAL at byte {opPos} needs two strings on the stack");
                        Push(_findGlobal(module, name));
                        break;
                    }
                case (byte)'Q': Push(_persistentLoad(Pop(opPos))); break;
                case (byte)'R': // REDUCE
                case 0x81: // NEWOBJ
                    {
                        var args = Pop(opPos) as PickleTuple ?? throw Bad($"{OpName(op)} at byte {opPos}: arguments are not a tuple");
                        Push(Call(Pop(opPos), args, op, opPos));
                        break;
                    }
                case 0x92: // NEWOBJ_EX
                    {
                        var kwargs = Pop(opPos);
                        var args = Pop(opPos) as PickleTuple ?? throw Bad($"NEWOBJ_EX at byte {opPos}: arguments are not a tuple");
                        if (kwargs is PickleDict { Count: > 0 }) throw Bad($"NEWOBJ_EX at byte {opPos} with keyword arguments is not supported");
                        Push(Call(Pop(opPos), args, op, opPos));
                        break;
                    }
                case (byte)'b': Build(Pop(opPos), Peek(opPos), opPos); break;

                default:
                    throw Bad($"unknown pickle opcode 0x{op:x2} ('{(op is >= 0x20 and < 0x7f ? (char)op : '?')}') at byte {opPos}");
            }
        }
    }

    private object? Call(object? callable, PickleTuple args, byte op, int opPos) => callable switch
    {
        IPickleCallable c => c.Call(args),
        PickleGlobal g => new PickleObject(g, args),
        _ => throw Bad($"{OpName(op)} at byte {opPos} calls a {TypeName(callable)}, which is not callable"),
    };

    private void Build(object? state, object? target, int opPos)
    {
        switch (target)
        {
            case PickleObject o:
                o.State = state;
                break;
            case PickleDict d:
                // OrderedDict.__setstate__ is the default: merge the state dict (and slot state) into __dict__.
                var parts = state is PickleTuple { Count: 2 } t ? new[] { t[0], t[1] } : new[] { state };
                foreach (var part in parts)
                {
                    if (part is null) continue;
                    if (part is not PickleDict attrs) throw Bad($"BUILD at byte {opPos}: state for a dict is a {TypeName(part)}");
                    d.Attributes ??= new PickleDict();
                    foreach (var kv in attrs) d.Attributes[kv.Key] = kv.Value;
                }
                break;
            default:
                throw Bad($"BUILD at byte {opPos} on a {TypeName(target)} is not supported");
        }
    }

    private void SetItems(PickleDict d, IReadOnlyList<object?> items, int opPos)
    {
        if (items.Count % 2 != 0) throw Bad($"SETITEMS at byte {opPos} with an odd number of stack items ({items.Count})");
        for (int i = 0; i < items.Count; i += 2)
        {
            var key = items[i] ?? throw Bad($"dict key None at byte {opPos} is not supported");
            d[key] = items[i + 1];
        }
    }

    private List<object?> AsList(object? o, int opPos) =>
        o as List<object?> ?? throw Bad($"APPEND at byte {opPos} on a {TypeName(o)}, expected a list");

    private PickleDict AsDict(object? o, int opPos) =>
        o as PickleDict ?? throw Bad($"SETITEM at byte {opPos} on a {TypeName(o)}, expected a dict");

    private object? MemoGet(long index, int opPos) =>
        _memo.TryGetValue(index, out var v) ? v : throw Bad($"memo entry {index} read at byte {opPos} was never stored");

    private void Push(object? o) => _stack.Add(o);

    private object? Pop(int opPos)
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _marks.Peek() == _stack.Count - 1))
            throw Bad($"pickle stack underflow at byte {opPos}");
        var o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    private object? Peek(int opPos)
    {
        if (_stack.Count == 0 || ReferenceEquals(_stack[^1], Mark)) throw Bad($"pickle stack underflow at byte {opPos}");
        return _stack[^1];
    }

    private object?[] PopMark(int opPos)
    {
        if (_marks.Count == 0) throw Bad($"opcode at byte {opPos} needs a MARK, but there is none");
        int m = _marks.Pop();
        var items = _stack.GetRange(m + 1, _stack.Count - m - 1).ToArray();
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private byte ReadByte(string what)
    {
        if (_pos >= _data.Length) throw Truncated(what);
        return _data[_pos++];
    }

    private ReadOnlySpan<byte> ReadBytes(long n, string what)
    {
        if (n < 0 || n > _data.Length - _pos) throw Truncated(what);
        var s = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    private long ReadLength(int width, string what)
    {
        var b = ReadBytes(width, what + " length");
        return width == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(b) : (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(b), long.MaxValue);
    }

    private object ReadLong(long n, string what)
    {
        var b = ReadBytes(n, what);
        if (n == 0) return 0L;
        var big = new BigInteger(b, isUnsigned: false, isBigEndian: false);
        return big >= long.MinValue && big <= long.MaxValue ? (object)(long)big : big;
    }

    private string ReadUtf8(long n, string what) => Encoding.UTF8.GetString(ReadBytes(n, what));

    private string ReadLine(string what)
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0) { _pos = _data.Length; throw Truncated(what); }
        var s = Encoding.UTF8.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private long ReadDecimalLine(string what)
    {
        var s = ReadLine(what);
        return long.TryParse(s, out var v) ? v : throw Bad($"{what} '{s}' is not a number");
    }

    private InvalidDataException Truncated(string what) =>
        new($"{_name} ended at byte {_data.Length} while reading {what} (file '{_file}'); the file is truncated or corrupt");

    private InvalidDataException Bad(string message) => new($"{message} (in {_name} of '{_file}')");

    private static string OpName(byte op) => op switch { (byte)'R' => "REDUCE", 0x81 => "NEWOBJ", 0x92 => "NEWOBJ_EX", _ => $"opcode 0x{op:x2}" };

    internal static string TypeName(object? o) => o switch
    {
        null => "None",
        string => "str",
        long or BigInteger => "int",
        double => "float",
        bool => "bool",
        byte[] => "bytes",
        PickleTuple => "tuple",
        List<object?> => "list",
        PickleDict => "dict",
        HostTensor => "tensor",
        PickleGlobal g => "global " + g,
        PickleObject po => po.Type + " object",
        _ => o.GetType().Name,
    };
}

using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace VideoSSL.Torch.Serialization;

/// <summary>A Python global (class or function) named by a pickle, e.g. <c>argparse.Namespace</c>.</summary>
public sealed record PickleGlobal(string Module, string Name)
{
    public string FullName => $"{Module}.{Name}";

    public override string ToString() => FullName;
}

/// <summary>
/// An instance of a Python class the reader does not model (argparse.Namespace, a config object...), kept as data
/// so that checkpoints carrying such objects still load. <see cref="State"/> is what BUILD set (usually the
/// instance <c>__dict__</c>); <see cref="Items"/>/<see cref="ListItems"/> collect what a dict or list subclass held.
/// </summary>
public sealed class PickleObject(PickleGlobal type, object?[] args)
{
    public PickleGlobal Type { get; } = type;

    public object?[] Args { get; } = args;

    public object? State { get; set; }

    public OrderedDictionary<object, object?>? Items { get; set; }

    public List<object?>? ListItems { get; set; }

    /// <summary>An attribute from a dictionary state, as <c>getattr</c> would find it; null when absent.</summary>
    public object? GetAttribute(string name) =>
        State is OrderedDictionary<object, object?> dict && dict.TryGetValue(name, out var value) ? value : null;

    public override string ToString() => $"{Type.FullName}(...)";
}

/// <summary>
/// A managed unpickler for the data pickles in checkpoints (protocols 0 to 5, without out-of-band buffers).
/// Python values map to: None → null, bool, long (BigInteger when wider), double, string, byte[], tuple → object?[],
/// list → List&lt;object?&gt;, dict → OrderedDictionary&lt;object, object?&gt; (keys compared by value, tuples too),
/// set → HashSet&lt;object&gt;. It never executes anything: classes it does not know become <see cref="PickleObject"/>s.
/// Subclasses give meaning to persistent ids and to calls (that is how torch tensors are rebuilt).
/// </summary>
public class PickleReader
{
    /// <summary>
    /// Deepest nesting of containers accepted. torch.save's trees are a few levels deep; a hostile pickle nesting a tuple
    /// 100,000 deep would otherwise overflow the stack of whatever walks the tree (hashing a tuple key, naming tensors).
    /// </summary>
    public const int MaxDepth = 1000;

    private readonly byte[] _data;
    // Nesting depth of containers deeper than 1 (scalars are 0, fresh containers 1).
    private readonly Dictionary<object, int> _depths = new(ReferenceEqualityComparer.Instance);
    private readonly string _source;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = [];
    private int _position;

    public PickleReader(byte[] data, string source)
    {
        _data = data;
        _source = source;
    }

    /// <summary>Names the pickle in error messages (file and entry).</summary>
    protected string Source => _source;

    public static IEqualityComparer<object> KeyComparer { get; } = new PythonKeyComparer();

    /// <summary>Reads a pickle that has no persistent ids.</summary>
    public static object? Load(byte[] data, string source = "pickle") => new PickleReader(data, source).Load();

    public static OrderedDictionary<object, object?> NewDict() => new(KeyComparer);

    public object? Load()
    {
        while (true)
        {
            int opcodePosition = _position;
            byte opcode = ReadByte();
            try
            {
                if (Step(opcode))
                {
                    return Pop();
                }
            }
            catch (Exception e) when (e is not (InvalidDataException or NotSupportedException or OutOfMemoryException))
            {
                throw Error(opcodePosition, $"opcode 0x{opcode:x2} ('{(char)opcode}') found unexpected operands: {e.Message}");
            }
        }
    }

    /// <summary>Resolves a persistent id (BINPERSID/PERSID): what torch uses for storages.</summary>
    protected virtual object? PersistentLoad(object? pid) =>
        throw new InvalidDataException($"{_source}: persistent id {Describe(pid)} but no persistent loader");

    /// <summary>A REDUCE: <paramref name="callable"/>(*<paramref name="args"/>). Unknown callables give opaque objects.</summary>
    protected virtual object? Call(PickleGlobal callable, object?[] args)
    {
        switch (callable.FullName)
        {
            case "collections.OrderedDict":
            case "builtins.dict":
            case "__builtin__.dict":
                var dict = NewDict();
                if (args.Length > 0 && args[0] is IEnumerable<object?> pairs)
                {
                    foreach (var pair in pairs)
                    {
                        var items = (System.Collections.IList)pair!;
                        dict[Key(items[0])] = items[1];
                    }
                }
                return dict;
            case "collections.defaultdict":
                return NewDict();
            case "builtins.list":
            case "__builtin__.list":
                return args.Length > 0 && args[0] is IEnumerable<object?> values ? values.ToList() : new List<object?>();
            case "builtins.set":
            case "builtins.frozenset":
            case "__builtin__.set":
            case "__builtin__.frozenset":
                var set = new HashSet<object>(KeyComparer);
                if (args.Length > 0 && args[0] is IEnumerable<object?> members)
                {
                    foreach (var member in members)
                    {
                        set.Add(Key(member));
                    }
                }
                return set;
            case "copy_reg._reconstructor":
            case "copyreg._reconstructor":
                // Protocols 0 and 1 create plain instances as _reconstructor(cls, object, None), then BUILD.
                return args.Length > 0 && args[0] is PickleGlobal type ? New(type, []) : new PickleObject(callable, args);
            case "_codecs.encode":
                // Protocol 2 writes Python 3 bytes as _codecs.encode(text, 'latin1').
                return args[0] is string text ? Encoding.Latin1.GetBytes(text) : new PickleObject(callable, args);
            case "builtins.bytearray":
            case "builtins.bytes":
                return args.Length == 0 ? Array.Empty<byte>() : args[0] is byte[] raw ? raw : args[0] is string latin ? Encoding.Latin1.GetBytes(latin) : new PickleObject(callable, args);
            case "numpy.core.multiarray.scalar":
            case "numpy._core.multiarray.scalar":
                return NumpyScalar(callable, args);
            default:
                return new PickleObject(callable, args);
        }
    }

    /// <summary>A NEWOBJ: <c>cls.__new__(cls, *args)</c>; the instance is usually filled by BUILD or SETITEMS next.</summary>
    protected virtual object? New(PickleGlobal type, object?[] args) => type.FullName switch
    {
        "collections.OrderedDict" or "builtins.dict" or "collections.defaultdict" => NewDict(),
        "builtins.list" => new List<object?>(),
        _ => new PickleObject(type, args),
    };

    protected InvalidDataException Error(int position, string message) =>
        new($"{_source}: byte {position}: {message}");

    /// <summary>Executes one opcode; true at STOP.</summary>
    private bool Step(byte opcode)
    {
        switch (opcode)
        {
            case 0x80: // PROTO
                byte protocol = ReadByte();
                if (protocol > 5)
                {
                    throw Error(_position - 2, $"pickle protocol {protocol} is newer than 5");
                }
                break;
            case 0x95: // FRAME: framing only groups opcodes; the whole pickle is already in memory.
                ReadBytes(8);
                break;
            case (byte)'.': // STOP
                return true;

            case (byte)'(': // MARK
                _marks.Push(_stack.Count);
                break;
            case (byte)'0': // POP
                Pop();
                break;
            case (byte)'1': // POP_MARK
                PopMark();
                break;
            case (byte)'2': // DUP
                Push(Peek());
                break;

            case (byte)'N':
                Push(null);
                break;
            case 0x88: // NEWTRUE
                Push(true);
                break;
            case 0x89: // NEWFALSE
                Push(false);
                break;
            case (byte)'J': // BININT
                Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4)));
                break;
            case (byte)'K': // BININT1
                Push((long)ReadByte());
                break;
            case (byte)'M': // BININT2
                Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2)));
                break;
            case 0x8a: // LONG1
                Push(ReadLong(ReadByte()));
                break;
            case 0x8b: // LONG4
                Push(ReadLong(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4)))));
                break;
            case (byte)'I': // INT (protocol 0; "01"/"00" are True/False)
                string intText = ReadLine();
                Push(intText switch
                {
                    "01" => true,
                    "00" => false,
                    _ => long.Parse(intText, CultureInfo.InvariantCulture),
                });
                break;
            case (byte)'L': // LONG (protocol 0)
                Push(Narrow(BigInteger.Parse(ReadLine().TrimEnd('L'), CultureInfo.InvariantCulture)));
                break;
            case (byte)'G': // BINFLOAT is big-endian
                Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8)));
                break;
            case (byte)'F': // FLOAT (protocol 0)
                Push(double.Parse(ReadLine(), CultureInfo.InvariantCulture));
                break;

            case (byte)'X': // BINUNICODE
                Push(Encoding.UTF8.GetString(ReadBytes(ReadLength(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))))));
                break;
            case 0x8c: // SHORT_BINUNICODE
                Push(Encoding.UTF8.GetString(ReadBytes(ReadByte())));
                break;
            case 0x8d: // BINUNICODE8
                Push(Encoding.UTF8.GetString(ReadBytes(ReadLength(BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8))))));
                break;
            case (byte)'V': // UNICODE (protocol 0)
                Push(RawUnicodeUnescape(ReadLine(Encoding.Latin1)));
                break;
            case (byte)'T': // BINSTRING (Python 2 str; latin1 never fails)
                Push(Encoding.Latin1.GetString(ReadBytes(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))))));
                break;
            case (byte)'U': // SHORT_BINSTRING
                Push(Encoding.Latin1.GetString(ReadBytes(ReadByte())));
                break;
            case (byte)'S': // STRING (protocol 0, quoted)
                Push(ReadLine().Trim('\'', '"'));
                break;
            case (byte)'B': // BINBYTES
                Push(ReadBytes(ReadLength(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))).ToArray());
                break;
            case (byte)'C': // SHORT_BINBYTES
                Push(ReadBytes(ReadByte()).ToArray());
                break;
            case 0x8e: // BINBYTES8
            case 0x96: // BYTEARRAY8
                Push(ReadBytes(ReadLength(BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8)))).ToArray());
                break;

            case (byte)')': // EMPTY_TUPLE
                Push(Array.Empty<object?>());
                break;
            case 0x85: // TUPLE1
                Push(Nest(new[] { Pop() }));
                break;
            case 0x86: // TUPLE2
                var second = Pop();
                Push(Nest(new[] { Pop(), second }));
                break;
            case 0x87: // TUPLE3
                var third = Pop();
                var middle = Pop();
                Push(Nest(new[] { Pop(), middle, third }));
                break;
            case (byte)'t': // TUPLE
                Push(Nest(PopMark().ToArray()));
                break;
            case (byte)']': // EMPTY_LIST
                Push(new List<object?>());
                break;
            case (byte)'l': // LIST
                var listItems = PopMark();
                Push(Nest(listItems, listItems));
                break;
            case (byte)'}': // EMPTY_DICT
                Push(NewDict());
                break;
            case (byte)'d': // DICT
                var fromMark = PopMark();
                var newDict = NewDict();
                for (int i = 0; i + 1 < fromMark.Count; i += 2)
                {
                    newDict[Key(fromMark[i])] = fromMark[i + 1];
                }
                Push(Nest(newDict, fromMark));
                break;
            case 0x8f: // EMPTY_SET
                Push(new HashSet<object>(KeyComparer));
                break;
            case 0x91: // FROZENSET
                var frozen = new HashSet<object>(KeyComparer);
                foreach (var item in PopMark())
                {
                    frozen.Add(Key(item));
                }
                Push(frozen);
                break;

            case (byte)'a': // APPEND
                var appended = Pop();
                Append(Nest(Peek(), [appended]), [appended]);
                break;
            case (byte)'e': // APPENDS
                var appendedItems = PopMark();
                Append(Nest(Peek(), appendedItems), appendedItems);
                break;
            case (byte)'s': // SETITEM
                var value = Pop();
                var key = Pop();
                SetItems(Nest(Peek(), [key, value]), [key, value]);
                break;
            case (byte)'u': // SETITEMS
                var keyValues = PopMark();
                SetItems(Nest(Peek(), keyValues), keyValues);
                break;
            case 0x90: // ADDITEMS
                var added = PopMark();
                var target = (HashSet<object>)Peek()!;
                foreach (var item in added)
                {
                    target.Add(Key(item));
                }
                break;

            case (byte)'q': // BINPUT
                _memo[ReadByte()] = Peek();
                break;
            case (byte)'r': // LONG_BINPUT
                _memo[BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))] = Peek();
                break;
            case 0x94: // MEMOIZE
                _memo[_memo.Count] = Peek();
                break;
            case (byte)'p': // PUT
                _memo[long.Parse(ReadLine(), CultureInfo.InvariantCulture)] = Peek();
                break;
            case (byte)'h': // BINGET
                Push(MemoGet(ReadByte()));
                break;
            case (byte)'j': // LONG_BINGET
                Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))));
                break;
            case (byte)'g': // GET
                Push(MemoGet(long.Parse(ReadLine(), CultureInfo.InvariantCulture)));
                break;

            case (byte)'c': // GLOBAL
                string module = ReadLine();
                Push(new PickleGlobal(module, ReadLine()));
                break;
            case 0x93: // STACK_GLOBAL
                string name = (string)Pop()!;
                Push(new PickleGlobal((string)Pop()!, name));
                break;
            case (byte)'R': // REDUCE
                var args = (object?[])Pop()!;
                var callable = Pop();
                Push(callable is PickleGlobal function
                    ? Nest(Call(function, args), args)
                    : throw new InvalidOperationException($"REDUCE on {Describe(callable)}, not a global"));
                break;
            case 0x81: // NEWOBJ
                var newArgs = (object?[])Pop()!;
                Push(Nest(New((PickleGlobal)Pop()!, newArgs), newArgs));
                break;
            case 0x92: // NEWOBJ_EX (keyword arguments are ignored: opaque objects only keep positional ones)
                Pop();
                var newExArgs = (object?[])Pop()!;
                Push(Nest(New((PickleGlobal)Pop()!, newExArgs), newExArgs));
                break;
            case (byte)'o': // OBJ
                var objArgs = PopMark();
                var objType = (PickleGlobal)objArgs[0]!;
                Push(Nest(New(objType, objArgs.Skip(1).ToArray()), objArgs));
                break;
            case (byte)'i': // INST
                var instModule = ReadLine();
                var instType = new PickleGlobal(instModule, ReadLine());
                var instArgs = PopMark();
                Push(Nest(New(instType, instArgs.ToArray()), instArgs));
                break;
            case (byte)'b': // BUILD
                var state = Pop();
                Build(Nest(Peek(), [state]), state);
                break;
            case (byte)'Q': // BINPERSID
                Push(PersistentLoad(Pop()));
                break;
            case (byte)'P': // PERSID
                Push(PersistentLoad(ReadLine()));
                break;

            default:
                throw Error(_position - 1, $"unsupported pickle opcode 0x{opcode:x2} ('{(char)opcode}')");
        }
        return false;
    }

    /// <summary>
    /// Records that <paramref name="container"/> holds <paramref name="children"/> and refuses nesting deeper than
    /// <see cref="MaxDepth"/>. (A container filled after it was nested elsewhere can still hide depth; walkers of the tree
    /// bound their own recursion too.)
    /// </summary>
    private T Nest<T>(T container, IReadOnlyList<object?>? children = null)
    {
        if (container is null || container is string || container is byte[] || container.GetType().IsPrimitive || container is BigInteger)
        {
            return container;
        }
        int depth = DepthOf(container);
        foreach (var child in children ?? (container as object?[]) ?? [])
        {
            depth = Math.Max(depth, DepthOf(child) + 1);
        }
        if (depth > MaxDepth)
        {
            throw Error(_position - 1, $"containers nested more than {MaxDepth} deep; not a checkpoint written by torch.save");
        }
        if (depth > 1)
        {
            _depths[container] = depth;
        }
        return container;
    }

    private int DepthOf(object? value) => value switch
    {
        null or string or byte[] or PickleGlobal or BigInteger => 0,
        _ when value.GetType().IsPrimitive => 0,
        _ => _depths.TryGetValue(value, out int depth) ? depth : 1,
    };

    private static void Append(object? target, List<object?> items)
    {
        switch (target)
        {
            case List<object?> list:
                list.AddRange(items);
                break;
            case PickleObject obj:
                (obj.ListItems ??= []).AddRange(items);
                break;
            default:
                throw new InvalidOperationException($"APPEND to {Describe(target)}");
        }
    }

    private static void SetItems(object? target, List<object?> keyValues)
    {
        var dict = target switch
        {
            OrderedDictionary<object, object?> d => d,
            PickleObject obj => obj.Items ??= NewDict(),
            _ => throw new InvalidOperationException($"SETITEM on {Describe(target)}"),
        };
        for (int i = 0; i + 1 < keyValues.Count; i += 2)
        {
            dict[Key(keyValues[i])] = keyValues[i + 1];
        }
    }

    private static void Build(object? target, object? state)
    {
        switch (target)
        {
            case PickleObject obj:
                // (dict, slotstate) pairs appear for classes with __slots__; keep the dict part.
                obj.State = state is object?[] { Length: 2 } pair && pair[0] is OrderedDictionary<object, object?> ? pair[0] : state;
                break;
            case OrderedDictionary<object, object?>:
                // An OrderedDict's own attributes (a state_dict's _metadata of module versions): nothing we use.
                break;
            default:
                break;
        }
    }

    private object? NumpyScalar(PickleGlobal callable, object?[] args)
    {
        if (args is not [PickleObject { Type.Name: "dtype" } dtype, byte[] bytes] || dtype.Args is not [string kind, ..])
        {
            return new PickleObject(callable, args);
        }
        bool bigEndian = dtype.State is object?[] { Length: > 1 } state && state[1] is ">";
        Span<byte> value = bytes.ToArray();
        if (bigEndian)
        {
            value.Reverse();
        }
        return (kind, value.Length) switch
        {
            ("f8", 8) => BinaryPrimitives.ReadDoubleLittleEndian(value),
            ("f4", 4) => (double)BinaryPrimitives.ReadSingleLittleEndian(value),
            ("f2", 2) => (double)BinaryPrimitives.ReadHalfLittleEndian(value),
            ("i8", 8) => BinaryPrimitives.ReadInt64LittleEndian(value),
            ("i4", 4) => (long)BinaryPrimitives.ReadInt32LittleEndian(value),
            ("i2", 2) => (long)BinaryPrimitives.ReadInt16LittleEndian(value),
            ("i1", 1) => (long)(sbyte)value[0],
            ("u8", 8) => Narrow(new BigInteger(BinaryPrimitives.ReadUInt64LittleEndian(value))),
            ("u4", 4) => (long)BinaryPrimitives.ReadUInt32LittleEndian(value),
            ("u2", 2) => (long)BinaryPrimitives.ReadUInt16LittleEndian(value),
            ("u1", 1) => (long)value[0],
            ("b1", 1) => value[0] != 0,
            _ => new PickleObject(callable, args),
        };
    }

    private static object Key(object? key) =>
        key ?? throw new InvalidOperationException("None as a dictionary key or set member is not supported");

    private static object Narrow(BigInteger value) =>
        value >= long.MinValue && value <= long.MaxValue ? (long)value : value;

    private object ReadLong(int length) => Narrow(new BigInteger(ReadBytes(length), isUnsigned: false, isBigEndian: false));

    private int ReadLength(long length)
    {
        if (length < 0 || length > _data.Length - _position)
        {
            throw Error(_position, $"length {length} runs past the end of the pickle ({_data.Length} bytes)");
        }
        return (int)length;
    }

    private int ReadLength(ulong length) => ReadLength(length > long.MaxValue ? -1 : (long)length);

    private byte ReadByte()
    {
        if (_position >= _data.Length)
        {
            throw Error(_position, "pickle ends without STOP (truncated?)");
        }
        return _data[_position++];
    }

    private ReadOnlySpan<byte> ReadBytes(int count)
    {
        if (count > _data.Length - _position)
        {
            throw Error(_position, $"{count} bytes needed but the pickle ends (truncated?)");
        }
        var span = _data.AsSpan(_position, count);
        _position += count;
        return span;
    }

    private string ReadLine() => ReadLine(Encoding.UTF8);

    private string ReadLine(Encoding encoding)
    {
        int end = Array.IndexOf(_data, (byte)'\n', _position);
        if (end < 0)
        {
            throw Error(_position, "unterminated text argument");
        }
        string line = encoding.GetString(_data, _position, end - _position);
        _position = end + 1;
        return line;
    }

    /// <summary>Python's raw-unicode-escape: latin-1 bytes, with \uXXXX and \UXXXXXXXX for everything else.</summary>
    private static string RawUnicodeUnescape(string text)
    {
        if (!text.Contains('\\', StringComparison.Ordinal))
        {
            return text;
        }
        var builder = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            int digits = text[i] == '\\' && i + 1 < text.Length ? text[i + 1] switch { 'u' => 4, 'U' => 8, _ => 0 } : 0;
            if (digits > 0 && i + 2 + digits <= text.Length
                && int.TryParse(text.AsSpan(i + 2, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int codePoint))
            {
                builder.Append(char.ConvertFromUtf32(codePoint));
                i += 1 + digits;
            }
            else
            {
                builder.Append(text[i]);
            }
        }
        return builder.ToString();
    }

    private void Push(object? value) => _stack.Add(value);

    private object? Peek() => _stack.Count > 0 && (_marks.Count == 0 || _stack.Count > _marks.Peek())
        ? _stack[^1]
        : throw new InvalidOperationException("stack underflow");

    private object? Pop()
    {
        var value = Peek();
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0)
        {
            throw new InvalidOperationException("no MARK on the stack");
        }
        int mark = _marks.Pop();
        var items = _stack.GetRange(mark, _stack.Count - mark);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private object? MemoGet(long index) => _memo.TryGetValue(index, out var value)
        ? value
        : throw new InvalidOperationException($"memo entry {index} was never stored");

    private static string Describe(object? value) => value switch
    {
        null => "None",
        object?[] tuple => $"({string.Join(", ", tuple.Select(Describe))})",
        string text => $"'{text}'",
        _ => value.ToString() ?? value.GetType().Name,
    };

    /// <summary>Python equality for keys: tuples compare by items, ints and bools by value.</summary>
    private sealed class PythonKeyComparer : IEqualityComparer<object>
    {
        public new bool Equals(object? x, object? y)
        {
            if (x is object?[] a && y is object?[] b)
            {
                return a.Length == b.Length && a.Zip(b).All(p => p.First is null ? p.Second is null : p.Second is not null && Equals(p.First, p.Second));
            }
            return object.Equals(x, y);
        }

        public int GetHashCode(object obj)
        {
            if (obj is object?[] tuple)
            {
                var hash = new HashCode();
                foreach (var item in tuple)
                {
                    hash.Add(item is null ? 0 : GetHashCode(item));
                }
                return hash.ToHashCode();
            }
            return obj.GetHashCode();
        }
    }
}

using System.Security.Cryptography;

namespace SamAdapt.Server.Sessions;

/// <summary>
/// The sessions of the browsers using the server, by an unguessable id (a cookie). At most <c>max</c> are kept; opening
/// one more drops the least recently used (its embeddings are released through <paramref name="release"/>, which disposes
/// them inside the model gate).
/// </summary>
public sealed class SessionStore(int max, string tempRoot, Action<Session> release) : IDisposable
{
    private readonly Dictionary<string, Session> _sessions = [];
    private readonly Lock _gate = new();

    public int Count { get { lock (_gate) return _sessions.Count; } }

    /// <summary>The session of <paramref name="id"/>, or a new one when the id is unknown or null.</summary>
    public Session GetOrCreate(string? id)
    {
        Session? evicted = null;
        Session s;
        lock (_gate)
        {
            if (id is not null && _sessions.TryGetValue(id, out var found))
            {
                found.LastUsed = DateTime.UtcNow;
                return found;
            }
            if (_sessions.Count >= max)
            {
                evicted = _sessions.Values.MinBy(x => x.LastUsed);
                if (evicted is not null) _sessions.Remove(evicted.Id);
            }
            s = new Session(Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant(), tempRoot);
            _sessions[s.Id] = s;
        }
        if (evicted is not null) release(evicted);
        return s;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var s in _sessions.Values) release(s);
            _sessions.Clear();
        }
    }
}

using CsCheck;
using Metering.Domain.Accounts;
using Metering.Domain.Usage;

namespace Metering.Domain.Tests;

public sealed class DedupeWindowTests
{
    private static readonly TimeSpan Length = TimeSpan.FromMinutes(10);

    /// <summary>Few distinct low halves, so keys share home slots and probe runs are long (removal moves keys back).</summary>
    private static DedupeKey Key(int k) => new(((UInt128)(ulong)k << 64) | (ulong)(k % 3));

    [Fact]
    public void The_window_agrees_with_a_plain_dictionary_and_list_at_every_step_and_packs_what_it_holds()
    {
        // An operation: remember a key, or expire; time moves by -3..15 minutes (mostly forward, as batches arrive).
        var operation = Gen.Select(Gen.Bool, Gen.Int[0, 40], Gen.Int[-3, 15]);
        operation.Array[0, 200].Sample(operations =>
        {
            var window = new DedupeWindow(Length);
            var model = new Model();
            var now = UsageGen.T0;
            foreach (var (remember, k, minutes) in operations)
            {
                now = now.AddMinutes(minutes);
                if (remember)
                {
                    window.Remember(Key(k), now);
                    model.Remember(Key(k), (now + Length).UtcTicks);
                }
                else
                {
                    window.Expire(now);
                    model.Expire(now.UtcTicks);
                }
                Assert.Equal(model.Latest.Count, window.Count);
                for (var i = 0; i <= 40; i++) Assert.Equal(model.Contains(Key(i), now.UtcTicks), window.Contains(Key(i), now));
                Assert.Equal(model.Live(), window.Entries.Select(e => (e.Key, e.ExpiresAt.UtcTicks)));
            }
            var restored = new DedupeWindow(Length);
            restored.Unpack(window.Pack());
            Assert.Equal(window.Entries, restored.Entries);
            Assert.Equal(window.Count, restored.Count);
        });
    }

    /// <summary>What the window must do, without its layout: the latest expiry per key, and every entry in arrival order.</summary>
    private sealed class Model
    {
        private readonly List<(DedupeKey Key, long ExpiresAt)> _order = [];

        public Dictionary<DedupeKey, long> Latest { get; } = [];

        public void Remember(DedupeKey key, long expiresAt)
        {
            Latest[key] = expiresAt;
            _order.Add((key, expiresAt));
        }

        public void Expire(long now)
        {
            while (_order.Count > 0 && _order[0].ExpiresAt <= now)
            {
                var key = _order[0].Key;
                _order.RemoveAt(0);
                if (Latest.TryGetValue(key, out var latest) && latest <= now) Latest.Remove(key);
            }
        }

        public bool Contains(DedupeKey key, long now) => Latest.TryGetValue(key, out var expiresAt) && expiresAt > now;

        /// <summary>Each remembered key's last entry, in arrival order.</summary>
        public IEnumerable<(DedupeKey, long)> Live() =>
            _order.Where((e, i) => Latest.ContainsKey(e.Key) && _order.FindLastIndex(o => o.Key == e.Key) == i);
    }
}

using System.Runtime.InteropServices;

namespace Metering.Ingestion.Kafka;

/// <summary>
/// Picks the librdkafka native library once per process, before any Kafka client exists.
/// </summary>
/// <remarks>
/// On Debian 12 the plain <c>runtimes/linux-x64/native/librdkafka.so</c> from librdkafka.redist does not
/// load (it needs <c>libsasl2.so.3</c>), while the <c>centos8-librdkafka.so</c> build next to it does.
/// Confluent.Kafka only lets you choose the file through <see cref="Confluent.Kafka.Library.Load"/>, and
/// only before its first client is created, so every code path that builds a client calls
/// <see cref="EnsureLoaded"/> first. The engine's own P/Invokes (the embedded mock broker) are pointed at
/// the very same file, so both sides share one librdkafka in the process.
/// On other operating systems Confluent.Kafka's default loading and .NET's normal native probing work,
/// so nothing is overridden there.
/// </remarks>
public static class Librdkafka
{
    /// <summary>The library name the engine's own <c>DllImport</c>/<c>LibraryImport</c> declarations use.</summary>
    internal const string LibraryName = "librdkafka";

    private static readonly Lock Gate = new();
    private static volatile bool _loaded;

    /// <summary>The native file in use when it was chosen here; null when left to the defaults.</summary>
    public static string? LoadedPath { get; private set; }

    /// <summary>Idempotent and thread-safe; cheap after the first call.</summary>
    public static void EnsureLoaded()
    {
        if (_loaded) return;
        lock (Gate)
        {
            if (_loaded) return;
            if (OperatingSystem.IsLinux())
                LoadOnLinux();
            _loaded = true;
        }
    }

    private static void LoadOnLinux()
    {
        foreach (var candidate in Candidates())
        {
            if (!File.Exists(candidate) || !NativeLibrary.TryLoad(candidate, out var handle))
                continue;

            // Library.Load(path) alone is not enough on Linux: Confluent.Kafka dlopen()s the path through
            // [DllImport("libdl")], and glibc >= 2.34 ships no plain libdl.so (only libdl.so.2), so that
            // throws DllNotFoundException; and its P/Invokes then bind by the name "librdkafka", which .NET
            // resolves to runtimes/<rid>/native/librdkafka.so again, the file that does not load. So both
            // names are resolved here, for Confluent.Kafka's assembly and for ours.
            NativeLibrary.SetDllImportResolver(typeof(Confluent.Kafka.Library).Assembly, (name, _, _) =>
                IsLibrdkafkaName(name) ? handle
                : name == "libdl" ? LoadLibdl()
                : IntPtr.Zero);
            NativeLibrary.SetDllImportResolver(typeof(Librdkafka).Assembly, (name, _, _) =>
                name == LibraryName ? handle : IntPtr.Zero);

            // Returns false when Confluent.Kafka was already initialised (a client was built before this
            // call); it then keeps whatever it loaded, which cannot be changed any more.
            Confluent.Kafka.Library.Load(candidate);
            LoadedPath = candidate;
            return;
        }
        // Nothing loadable next to the app: leave it to Confluent.Kafka's own search, which then reports
        // the real failure when the first client is built.
    }

    // Confluent.Kafka binds "librdkafka", or "centos8-librdkafka"/"alpine-librdkafka" as its fallbacks.
    private static bool IsLibrdkafkaName(string name) =>
        name is LibraryName || name.EndsWith("-" + LibraryName, StringComparison.Ordinal)
                            || name.EndsWith("-" + LibraryName + ".so", StringComparison.Ordinal);

    private static IntPtr LoadLibdl() =>
        NativeLibrary.TryLoad("libdl.so.2", out var dl) ? dl
        : NativeLibrary.TryLoad("libc.so.6", out var libc) ? libc
        : IntPtr.Zero;

    /// <summary>Files to try, best first.</summary>
    private static IEnumerable<string> Candidates()
    {
        var arch = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "x64",
            Architecture.Arm64 => "arm64",
            Architecture.S390x => "s390x",
            var other => other.ToString().ToLowerInvariant(),
        };
        var musl = IsMusl();
        var preferred = musl
            ? new[] { "alpine-librdkafka.so", "librdkafka.so" }
            : arch == "x64"
                ? new[] { "centos8-librdkafka.so", "librdkafka.so" }
                : new[] { "librdkafka.so" };

        var baseDir = AppContext.BaseDirectory;
        var nativeDirs = new[]
        {
            Path.Combine(baseDir, "runtimes", $"linux-{arch}", "native"), // framework-dependent (portable) build
            baseDir,                                                      // RID-specific publish flattens the assets
        };
        foreach (var dir in nativeDirs)
            foreach (var file in preferred)
                yield return Path.Combine(dir, file);
    }

    private static bool IsMusl()
    {
        try
        {
            return Directory.Exists("/lib") && Directory.EnumerateFiles("/lib", "ld-musl-*.so.1").Any();
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}

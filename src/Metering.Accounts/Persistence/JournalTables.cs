using System.Data.Common;
using Akka.Actor;
using Akka.Configuration;

namespace Metering.Accounts.Persistence;

/// <summary>
/// The journal's and snapshot store's tables and columns as an Akka.Persistence.Sql plugin's
/// configuration names them (its <c>table-mapping</c>), quoted for SQL on SQLite and PostgreSQL, and
/// their rows' payloads as it serializes them.
/// </summary>
public static class JournalTables
{
    /// <summary>The table <paramref name="name"/> (<c>journal</c>, <c>snapshot</c>) of the plugin's mapping, and a quoted name for each of its columns.</summary>
    public static (string Table, Func<string, string> Column) Table(Config plugin, string name)
    {
        var mapping = plugin.GetConfig(plugin.GetString("table-mapping"));
        var schema = mapping.GetString("schema-name", null);
        var table = mapping.GetConfig(name);
        var qualified = string.IsNullOrEmpty(schema) || schema == "null"
            ? Quote(table.GetString("table-name"))
            : $"{Quote(schema)}.{Quote(table.GetString("table-name"))}";
        return (qualified, key => Quote(table.GetString($"columns.{key}")));
    }

    /// <summary>Whether the journal table has the writer's id column (Akka.Persistence.Sql's own mapping has).</summary>
    public static bool UsesWriterUuid(Config journal) =>
        journal.GetBoolean($"{journal.GetString("table-mapping")}.journal.use-writer-uuid-column", false);

    /// <summary>
    /// A row's payload, deserialized with the serializer the row names. Akka.Persistence.Sql has always
    /// written it; a row without one (a journal from before serializer ids) is refused rather than guessed at.
    /// </summary>
    public static object Payload(Akka.Serialization.Serialization serialization, DbDataReader reader, int bytesColumn, int serializerColumn, string manifest, string persistenceId) =>
        reader.IsDBNull(serializerColumn)
            ? throw new InvalidOperationException($"A row of {persistenceId} names no serializer; this engine reads only rows that do.")
            : serialization.Deserialize((byte[])reader.GetValue(bytesColumn), reader.GetInt32(serializerColumn), manifest);

    /// <summary>The journal plugin's configuration (<c>akka.persistence.journal.sql</c>): its database (<see cref="JournalDatabase.ForPlugin"/>) and table names.</summary>
    public static Config JournalPlugin(ActorSystem system) => system.Settings.Config.GetConfig("akka.persistence.journal.sql");

    /// <summary>A row's manifest: empty when the column holds none, as Akka.Persistence.Sql reads it.</summary>
    public static string Manifest(DbDataReader reader, int column) => reader.IsDBNull(column) ? string.Empty : reader.GetString(column);

    private static string Quote(string identifier) => $"\"{identifier.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
}

# syntax=docker/dockerfile:1
# The Metering engine: build with the SDK, run on a small, non-root ASP.NET runtime image.
#   docker build -t metering:local .
#
# Runtime image: Ubuntu "chiseled" (distroless) with ICU and tzdata ("-extra"), because the engine
# runs with globalization on (InvariantGlobalization=false). Kafka goes through librdkafka from the
# librdkafka.redist package; on glibc Linux the engine loads its centos8 build
# (runtimes/linux-x64/native/centos8-librdkafka.so, see src/Metering.Ingestion/Kafka/Librdkafka.cs),
# which links OpenSSL, SASL, zlib and zstd statically and needs only glibc's libc, libm, libdl,
# libpthread and librt, all present in the chiseled image. TLS to Kafka also needs CA certificates
# (present). The plain librdkafka.so would need libsasl2.so.3, which neither Debian nor Ubuntu ship;
# musl (Alpine) images would need the alpine build, which the loader does not pick: stay on glibc.

ARG DOTNET_VERSION=10.0

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props ./
COPY src/ src/
RUN dotnet restore src/Metering.Host/Metering.Host.csproj
RUN dotnet publish src/Metering.Host/Metering.Host.csproj -c Release -o /app --no-restore -p:UseAppHost=false \
    # Only the glibc x64 native builds are needed at run time.
    && rm -rf /app/runtimes/win-* /app/runtimes/osx-* /app/runtimes/linux-arm* \
    && mkdir -p /data

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}-noble-chiseled-extra AS runtime
WORKDIR /app
COPY --from=build /app ./
# Generated keys and the sandbox gateway's file (SQLite too, if the provider is sqlite). 1654 is the
# image's non-root "app" user, which the chiseled image runs as by default.
COPY --from=build --chown=1654:1654 /data /data
USER 1654
ENV ASPNETCORE_HTTP_PORTS=8080 \
    Metering__DataDir=/data \
    Metering__Cluster__Hostname=0.0.0.0 \
    Metering__Cluster__Port=4053 \
    DOTNET_gcServer=1
# 8080 HTTP API, /metrics and health; 4053 Akka remoting; 8558 Akka.Management (cluster bootstrap).
EXPOSE 8080 4053 8558
VOLUME /data
ENTRYPOINT ["dotnet", "Metering.Host.dll"]

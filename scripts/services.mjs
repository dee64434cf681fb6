#!/usr/bin/env node
/**
 * Starts, stops and reports the Kafka broker and Redis server that Vigil's integration
 * tests and CI talk to:
 *
 *   node scripts/services.mjs up|down|status [--kafka] [--redis] [--quiet] [--json]
 *
 * `up` uses what already answers (127.0.0.1:9092, 127.0.0.1:6379); otherwise it starts the
 * service with Docker when an engine runs, else natively: Kafka from its Maven Central jars
 * (fetched once into .local/kafka/libs), Redis with `redis-server`. `down` stops only what
 * this script started. Progress goes to stderr (silenced by --quiet); failures always do,
 * one line per missing thing with what to install. Exit code 0 when all is well, else 1.
 *
 * Also importable (`up`, `down`, `status`) for a vitest globalSetup; spawning it works as well.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Buffer } from 'node:buffer';

const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LOCAL_DIR = join(REPO_DIR, '.local');
const KAFKA_DIR = join(LOCAL_DIR, 'kafka');
const KAFKA_LIBS_DIR = join(KAFKA_DIR, 'libs');
const KAFKA_LIBS_MARKER = join(KAFKA_LIBS_DIR, '.complete');
const KAFKA_DATA_DIR = join(KAFKA_DIR, 'data');
const KAFKA_LOG_FILE = join(KAFKA_DIR, 'broker.log');
const KAFKA_PID_FILE = join(KAFKA_DIR, 'broker.pid');
const KAFKA_PROPERTIES_FILE = join(KAFKA_DIR, 'server.properties');
const KAFKA_POM_FILE = join(REPO_DIR, 'scripts', 'kafka', 'pom.xml');
const KAFKA_LOG4J_FILE = join(REPO_DIR, 'scripts', 'kafka', 'log4j.properties');
const REDIS_DIR = join(LOCAL_DIR, 'redis');
const REDIS_PID_FILE = join(REDIS_DIR, 'redis.pid');
const REDIS_LOG_FILE = join(REDIS_DIR, 'redis.log');
/** Compose services this script started, so that `down` stops those and nothing else. */
const DOCKER_STATE_FILE = join(LOCAL_DIR, 'services-docker.json');
const LOCK_FILE = join(LOCAL_DIR, 'services.lock');
const COMPOSE_FILE = join(REPO_DIR, 'docker-compose.yml');

const HOST = '127.0.0.1';
const KAFKA_PORT = 9092;
const KAFKA_CONTROLLER_PORT = 9093;
const REDIS_PORT = 6379;
/** Fixed so that the data directory, once formatted, is reused: 16 bytes, base64url, 22 chars. */
const KAFKA_CLUSTER_ID = 'VmlnaWxMb2NhbEthZmthMQ';
const KAFKA_READY_MS = 60_000;
/** The image may still be warming up after `docker compose up -d` returns. */
const DOCKER_READY_MS = 120_000;
const REDIS_READY_MS = 10_000;
const STOP_GRACE_MS = 20_000;
const LOCK_WAIT_MS = 180_000;
const MVN_TIMEOUT_MS = 15 * 60_000;

const INSTALL_JAVA = 'install a JDK 17 (apt-get install -y openjdk-17-jre-headless) or Docker';
const INSTALL_MAVEN = 'install Maven (apt-get install -y maven) to fetch the Kafka jars once, or Docker';
const INSTALL_REDIS = 'install Redis 7 (apt-get install -y redis-server) or Docker';

/** A service that could not be made to answer, with a one-line reason that says what to do. */
class ServiceError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'ServiceError';
  }
}

let quiet = false;

function say(line) {
  if (!quiet) process.stderr.write(`services: ${line}\n`);
}

function seconds(sinceMs) {
  return `${((Date.now() - sinceMs) / 1000).toFixed(1)} s`;
}

// ---------------------------------------------------------------------------------------------
// Probes: plain TCP, no client libraries.

/** Sends `request` (if any) and collects the reply until `complete(reply)` says it is whole. */
function exchange(port, request, complete, timeoutMs) {
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ host: HOST, port });
    let reply = Buffer.alloc(0);
    const finish = (err, value) => {
      socket.destroy();
      if (err) reject(err);
      else resolvePromise(value);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`no answer from ${HOST}:${port} within ${timeoutMs} ms`)));
    socket.once('error', (err) => finish(err));
    socket.once('connect', () => {
      if (request === null) finish(null, reply);
      else socket.write(request);
    });
    socket.on('data', (chunk) => {
      reply = Buffer.concat([reply, chunk]);
      if (complete(reply)) finish(null, reply);
    });
    socket.once('end', () => finish(new Error(`${HOST}:${port} closed the connection without a whole answer`)));
  });
}

/** Whether something accepts TCP connections on the port. */
async function accepts(port, timeoutMs = 1000) {
  try {
    await exchange(port, null, () => true, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

function kafkaString(text) {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(2);
  length.writeInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/**
 * The cluster as the broker describes it, from a Metadata request (v4: served by Kafka 1.0
 * through 4.x, not flexible, so it needs no tagged fields) that asks for no topics.
 */
async function kafkaMetadata(timeoutMs = 3000) {
  const header = Buffer.alloc(8);
  header.writeInt16BE(3, 0); // api key: Metadata
  header.writeInt16BE(4, 2); // api version
  header.writeInt32BE(7, 4); // correlation id
  const body = Buffer.from([0, 0, 0, 0, 0]); // topics: empty array; allow_auto_topic_creation: false
  const payload = Buffer.concat([header, kafkaString('vigil-services'), body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  const reply = await exchange(
    KAFKA_PORT,
    Buffer.concat([size, payload]),
    (r) => r.length >= 4 && r.length >= 4 + r.readInt32BE(0),
    timeoutMs,
  );
  let at = 4;
  const int16 = () => { const v = reply.readInt16BE(at); at += 2; return v; };
  const int32 = () => { const v = reply.readInt32BE(at); at += 4; return v; };
  const string = () => {
    const length = int16();
    if (length < 0) return null;
    const v = reply.toString('utf8', at, at + length);
    at += length;
    return v;
  };
  if (int32() !== 7) throw new Error('the answer to a Kafka metadata request has the wrong correlation id');
  int32(); // throttle time
  const brokers = [];
  for (let count = int32(); count > 0; count -= 1) {
    const nodeId = int32();
    const host = string();
    const port = int32();
    string(); // rack
    brokers.push({ nodeId, host, port });
  }
  const clusterId = string();
  const controllerId = int32();
  if (brokers.length === 0) throw new Error('the broker lists no brokers yet');
  return { brokers, clusterId, controllerId };
}

/** Metadata, asked again until it comes or the time is up. */
async function kafkaMetadataWithin(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      return await kafkaMetadata();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await sleep(250);
    }
  }
}

function describeCluster(metadata) {
  const brokers = metadata.brokers.map((b) => `${b.nodeId}@${b.host}:${b.port}`).join(', ');
  return `broker ${brokers}, cluster ${metadata.clusterId}`;
}

/** Redis's answer to PING: 'PONG', another reply line (e.g. '-NOAUTH ...'), or null when nothing listens. */
async function redisPing(timeoutMs = 1000) {
  try {
    const reply = await exchange(REDIS_PORT, Buffer.from('PING\r\n'), (r) => r.includes('\r\n'), timeoutMs);
    const line = reply.toString('utf8').split('\r\n')[0];
    return line === '+PONG' ? 'PONG' : line;
  } catch (err) {
    if (err.code === 'ECONNREFUSED') return null;
    return `no PING reply (${err.message})`;
  }
}

// ---------------------------------------------------------------------------------------------
// Processes and tools.

function readPid(file) {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Whether the process runs; a zombie (exited, not yet reaped by its new parent) does not. */
function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return err.code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): trust kill(pid, 0)
  }
}

/** The command line of a live process, to tell our broker from another process that reuses its pid. */
function commandLine(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    const ps = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
    return ps.status === 0 ? ps.stdout : '';
  }
}

/** The pid in `file` when that process is alive and its command line contains `marker`. */
function ownedPid(file, marker) {
  const pid = readPid(file);
  if (pid === null || !isAlive(pid)) return null;
  return commandLine(pid).includes(marker) ? pid : null;
}

/** The broker this script started with the Maven jars, if it runs. */
function ownKafkaPid() {
  return ownedPid(KAFKA_PID_FILE, 'kafka.Kafka');
}

/** The redis-server this script started, if it runs. */
function ownRedisPid() {
  return ownedPid(REDIS_PID_FILE, 'redis-server');
}

/** The path of an executable on PATH, or null. */
function which(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** The java to run the broker with ($JAVA_HOME first) and its major version. */
function findJava() {
  const home = process.env.JAVA_HOME;
  const fromHome = home ? join(home, 'bin', 'java') : null;
  const java = fromHome !== null && existsSync(fromHome) ? fromHome : which('java');
  if (java === null) throw new ServiceError(`java not found: ${INSTALL_JAVA}`);
  const probe = spawnSync(java, ['-version'], { encoding: 'utf8', timeout: 30_000 });
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${probe.stderr}${probe.stdout}`);
  if (probe.status !== 0 || match === null) {
    throw new ServiceError(`${java} -version failed (${(probe.stderr || probe.error?.message || '').trim().split('\n')[0]}): ${INSTALL_JAVA}`);
  }
  const major = match[1] === '1' ? Number(match[2]) : Number(match[1]);
  if (major < 11) throw new ServiceError(`java ${major} is too old for Kafka 3.9 (needs 11+): ${INSTALL_JAVA}`);
  return { java, major };
}

function tail(file, lines) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------
// Docker.

let dockerCache;

/** How to run compose when a Docker engine answers: `{ command, args }`, else `{ why }`. */
function docker() {
  if (dockerCache !== undefined) return dockerCache;
  const bin = which('docker');
  if (bin === null) return (dockerCache = { why: 'docker not found' });
  const info = spawnSync(bin, ['info'], { stdio: 'ignore', timeout: 20_000 });
  if (info.status !== 0) return (dockerCache = { why: 'no Docker engine answers (docker info failed)' });
  if (spawnSync(bin, ['compose', 'version'], { stdio: 'ignore' }).status === 0) {
    return (dockerCache = { command: bin, args: ['compose', '-f', COMPOSE_FILE] });
  }
  // A standalone docker-compose will do if it is v2: v1 (EOL) rejects the file's top-level `name`.
  const standalone = which('docker-compose');
  const version = standalone === null ? '' : spawnSync(standalone, ['version', '--short'], { encoding: 'utf8' }).stdout ?? '';
  if (/^v?[2-9]/.test(version.trim())) return (dockerCache = { command: standalone, args: ['-f', COMPOSE_FILE] });
  return (dockerCache = { why: 'a Docker engine runs but the compose plugin is missing (install docker-compose-plugin, Compose v2)' });
}

function dockerStarted() {
  try {
    const state = JSON.parse(readFileSync(DOCKER_STATE_FILE, 'utf8'));
    return new Set(Array.isArray(state.services) ? state.services : []);
  } catch {
    return new Set();
  }
}

function saveDockerStarted(services) {
  if (services.size === 0) rmSync(DOCKER_STATE_FILE, { force: true });
  else writeFileSync(DOCKER_STATE_FILE, `${JSON.stringify({ services: [...services].sort() })}\n`);
}

function compose(args, what) {
  const { command, args: base } = docker();
  const run = spawnSync(command, [...base, ...args], { cwd: REPO_DIR, encoding: 'utf8', timeout: 15 * 60_000 });
  if (run.status !== 0) {
    const detail = `${run.stderr ?? ''}${run.stdout ?? ''}`.trim().split('\n').filter(Boolean).pop() ?? run.error?.message ?? `exit ${run.status}`;
    throw new ServiceError(`${what} failed: ${detail}`);
  }
}

async function composeUp(service) {
  say(`${service}: starting it with docker compose`);
  compose(['up', '-d', service], `docker compose up -d ${service}`);
  const started = dockerStarted();
  started.add(service);
  saveDockerStarted(started);
}

// ---------------------------------------------------------------------------------------------
// Kafka.

function kafkaProperties() {
  return [
    '# Written by scripts/services.mjs on every start; edit the script, not this file.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${HOST}:${KAFKA_CONTROLLER_PORT}`,
    `listeners=PLAINTEXT://${HOST}:${KAFKA_PORT},CONTROLLER://${HOST}:${KAFKA_CONTROLLER_PORT}`,
    `advertised.listeners=PLAINTEXT://${HOST}:${KAFKA_PORT}`,
    'inter.broker.listener.name=PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${KAFKA_DATA_DIR}`,
    'num.partitions=1',
    // Without these a single broker cannot host the offsets topic: consumer groups hang.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=true',
    // Tests create many short-lived topics; keep them from filling the disk.
    'log.retention.hours=24',
    'log.segment.bytes=16777216',
    '',
  ].join('\n');
}

function pomDigest() {
  return createHash('sha256').update(readFileSync(KAFKA_POM_FILE)).digest('hex');
}

/** Fetches the broker's jars into .local/kafka/libs unless the same pom.xml already did. */
function ensureKafkaLibs() {
  const digest = pomDigest();
  if (existsSync(KAFKA_LIBS_MARKER) && readFileSync(KAFKA_LIBS_MARKER, 'utf8').trim() === digest) {
    say(`kafka: jars cached in ${KAFKA_LIBS_DIR}`);
    return;
  }
  const mvn = which('mvn');
  if (mvn === null) throw new ServiceError(`mvn not found: ${INSTALL_MAVEN}`);
  const started = Date.now();
  say(`kafka: fetching the broker's jars from Maven Central into ${KAFKA_LIBS_DIR} (once)`);
  const staging = `${KAFKA_LIBS_DIR}.partial`;
  rmSync(staging, { recursive: true, force: true });
  // The goal is named in full so that Maven need not look its prefix up before it can fail plainly.
  const run = spawnSync(
    mvn,
    ['-q', '-B', '-Dstyle.color=never', '-f', KAFKA_POM_FILE,
      'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies', `-DoutputDirectory=${staging}`],
    { cwd: REPO_DIR, encoding: 'utf8', timeout: MVN_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
  );
  // eslint-disable-next-line no-control-regex
  const output = `${run.stdout ?? ''}\n${run.stderr ?? ''}`.replace(/\u001b\[[0-9;]*m/g, '');
  if (run.error?.code === 'ETIMEDOUT') {
    throw new ServiceError(`Maven Central unreachable: mvn did not finish within ${MVN_TIMEOUT_MS / 60_000} min; check the network or the proxy in ~/.m2/settings.xml, or use Docker`);
  }
  if (run.status !== 0) {
    const lines = output.split('\n').map((l) => l.trim());
    const firstError = (lines.find((l) => /^\[ERROR\]\s*\S/.test(l)) ?? lines.find((l) => l !== '') ?? run.error?.message ?? `exit ${run.status}`)
      .replace(/^\[ERROR\]\s*/, '').replace(/\s*-> \[Help \d+\]$/, '');
    const transfer = /transfer failed for (\S+): (.*)$/.exec(firstError);
    const reason = transfer !== null ? `${transfer[1]}: ${transfer[2]}` : firstError.length > 300 ? `...${firstError.slice(-300)}` : firstError;
    const network = /UnknownHost|Connection refused|Connect(ion)? to .* (failed|timed out)|timed out|Network is unreachable|No route to host|Could not transfer artifact|transfer failed|PKIX|No plugin found for prefix|offline/i;
    if (network.test(output)) throw new ServiceError(`Maven Central unreachable: ${reason} (the jars are fetched once, into ${KAFKA_LIBS_DIR}; or use Docker)`);
    throw new ServiceError(`mvn could not fetch the Kafka jars: ${reason}`);
  }
  const kafkaJar = 'kafka_2.13-3.9.1.jar';
  if (!existsSync(join(staging, kafkaJar))) throw new ServiceError(`mvn finished but ${kafkaJar} is not in ${staging}`);
  rmSync(KAFKA_LIBS_DIR, { recursive: true, force: true });
  renameSync(staging, KAFKA_LIBS_DIR);
  writeFileSync(KAFKA_LIBS_MARKER, `${digest}\n`);
  say(`kafka: jars fetched in ${seconds(started)}`);
}

/** Starts the broker from the Maven jars, detached, and waits until it serves metadata. */
async function startKafkaFromJars() {
  const { java } = findJava();
  ensureKafkaLibs();
  if (await accepts(KAFKA_CONTROLLER_PORT)) {
    throw new ServiceError(`the controller port ${HOST}:${KAFKA_CONTROLLER_PORT} is taken by another program (a packaged Alertmanager uses 9093/9094); stop it first`);
  }
  mkdirSync(KAFKA_DATA_DIR, { recursive: true });
  writeFileSync(KAFKA_PROPERTIES_FILE, kafkaProperties());
  const classpath = join(KAFKA_LIBS_DIR, '*');
  const logging = `-Dlog4j.configuration=${pathToFileURL(KAFKA_LOG4J_FILE).href}`;
  // Formatting costs a JVM start; once done, the data directory says so.
  const format = existsSync(join(KAFKA_DATA_DIR, 'meta.properties')) ? { status: 0 } : spawnSync(
    java,
    [logging, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', KAFKA_CLUSTER_ID, '-c', KAFKA_PROPERTIES_FILE, '--ignore-formatted'],
    { cwd: KAFKA_DIR, encoding: 'utf8', timeout: 120_000 },
  );
  if (format.status !== 0) {
    const detail = `${format.stdout ?? ''}${format.stderr ?? ''}`.trim().split('\n').filter(Boolean).pop() ?? format.error?.message;
    throw new ServiceError(`formatting ${KAFKA_DATA_DIR} failed: ${detail}; remove that directory to start afresh`);
  }

  if (existsSync(KAFKA_LOG_FILE)) renameSync(KAFKA_LOG_FILE, `${KAFKA_LOG_FILE}.1`);
  const logFd = openSync(KAFKA_LOG_FILE, 'a');
  const started = Date.now();
  const child = spawn(
    java,
    ['-Xms512m', '-Xmx512m', '-Djava.awt.headless=true', logging, '-cp', classpath, 'kafka.Kafka', KAFKA_PROPERTIES_FILE],
    { cwd: KAFKA_DIR, detached: true, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  let exited = null;
  child.once('exit', (code, signal) => { exited = signal ?? `exit code ${code}`; });
  child.once('error', (err) => { exited = err.message; });
  if (child.pid === undefined) {
    await sleep(50);
    throw new ServiceError(`could not start java: ${exited ?? 'unknown error'}`);
  }
  writeFileSync(KAFKA_PID_FILE, `${child.pid}\n`);
  child.unref();
  say(`kafka: started the broker (pid ${child.pid}, log ${KAFKA_LOG_FILE}); waiting for ${HOST}:${KAFKA_PORT}`);

  const deadline = started + KAFKA_READY_MS;
  while (!(await accepts(KAFKA_PORT, 500))) {
    if (exited !== null) {
      rmSync(KAFKA_PID_FILE, { force: true });
      throw new ServiceError(`the broker stopped (${exited}) before it listened on ${HOST}:${KAFKA_PORT}; see ${KAFKA_LOG_FILE}:\n${tail(KAFKA_LOG_FILE, 15)}`);
    }
    if (Date.now() >= deadline) {
      throw new ServiceError(`the broker (pid ${child.pid}) did not listen on ${HOST}:${KAFKA_PORT} within ${KAFKA_READY_MS / 1000} s; see ${KAFKA_LOG_FILE}; stop it with: node scripts/services.mjs down --kafka`);
    }
    await sleep(250);
  }
  const metadata = await kafkaMetadataWithin(10_000).catch((err) => {
    throw new ServiceError(`the broker listens on ${HOST}:${KAFKA_PORT} but does not answer a metadata request (${err.message}); see ${KAFKA_LOG_FILE}`);
  });
  say(`kafka: ready on ${HOST}:${KAFKA_PORT} after ${seconds(started)} (${describeCluster(metadata)})`);
  return metadata;
}

/** Waits for a broker this script started earlier that is not listening yet. */
async function waitForOwnKafka(pid) {
  say(`kafka: the broker started earlier (pid ${pid}) is not listening yet; waiting`);
  const deadline = Date.now() + KAFKA_READY_MS;
  while (!(await accepts(KAFKA_PORT, 500))) {
    if (!isAlive(pid)) throw new ServiceError(`the broker (pid ${pid}) stopped before it listened; see ${KAFKA_LOG_FILE}`);
    if (Date.now() >= deadline) throw new ServiceError(`the broker (pid ${pid}) did not listen on ${HOST}:${KAFKA_PORT} within ${KAFKA_READY_MS / 1000} s; see ${KAFKA_LOG_FILE}`);
    await sleep(250);
  }
  return kafkaMetadataWithin(10_000);
}

function kafkaOwner() {
  const pid = ownKafkaPid();
  if (pid !== null) return { by: 'jars', pid };
  if (dockerStarted().has('kafka')) return { by: 'docker' };
  return null;
}

function describeOwner(owner) {
  if (owner === null) return 'not started by this script';
  if (owner.by === 'docker') return 'started by this script with docker compose';
  return `started by this script (${owner.by === 'jars' ? 'Maven jars' : 'redis-server'}, pid ${owner.pid})`;
}

async function upKafka() {
  if (await accepts(KAFKA_PORT)) {
    const metadata = await kafkaMetadataWithin(5_000).catch((err) => {
      throw new ServiceError(`${HOST}:${KAFKA_PORT} accepts connections but does not answer a Kafka metadata request (${err.message}); stop whatever listens there`);
    });
    say(`kafka: already answers on ${HOST}:${KAFKA_PORT} (${describeCluster(metadata)}; ${describeOwner(kafkaOwner())}); using it`);
    return metadata;
  }
  const pid = ownKafkaPid();
  if (pid !== null) return waitForOwnKafka(pid);
  rmSync(KAFKA_PID_FILE, { force: true });

  const engine = docker();
  if (engine.command !== undefined) {
    await composeUp('kafka');
    const started = Date.now();
    const metadata = await kafkaMetadataWithin(DOCKER_READY_MS).catch((err) => {
      throw new ServiceError(`the kafka container did not answer on ${HOST}:${KAFKA_PORT} within ${DOCKER_READY_MS / 1000} s (${err.message}); see: docker compose logs kafka`);
    });
    say(`kafka: ready on ${HOST}:${KAFKA_PORT} after ${seconds(started)} (${describeCluster(metadata)})`);
    return metadata;
  }
  say(`kafka: nothing answers on ${HOST}:${KAFKA_PORT} and Docker is not usable (${engine.why}); using the Maven jars`);
  return startKafkaFromJars();
}

async function downKafka() {
  const pid = ownKafkaPid();
  if (pid !== null) {
    say(`kafka: stopping the broker (pid ${pid}) with SIGTERM`);
    const started = Date.now();
    await stopProcess(pid, STOP_GRACE_MS);
    rmSync(KAFKA_PID_FILE, { force: true });
    say(`kafka: stopped after ${seconds(started)}`);
    return;
  }
  rmSync(KAFKA_PID_FILE, { force: true });
  if (await stopDockerService('kafka')) return;
  say(`kafka: nothing started by this script runs${(await accepts(KAFKA_PORT)) ? `; leaving the broker on ${HOST}:${KAFKA_PORT} alone` : ''}`);
}

// ---------------------------------------------------------------------------------------------
// Redis.

async function waitForPong(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const reply = await redisPing();
    if (reply === 'PONG') return;
    if (Date.now() >= deadline) throw new Error(reply === null ? 'nothing listens' : reply);
    await sleep(100);
  }
}

function redisOwner() {
  const pid = ownRedisPid();
  if (pid !== null) return { by: 'redis-server', pid };
  if (dockerStarted().has('redis')) return { by: 'docker' };
  return null;
}

async function upRedis() {
  const reply = await redisPing();
  if (reply === 'PONG') {
    say(`redis: already answers PING on ${HOST}:${REDIS_PORT} (${describeOwner(redisOwner())}); using it`);
    return;
  }
  if (reply !== null) {
    throw new ServiceError(`${HOST}:${REDIS_PORT} is taken but does not answer PING with PONG (${reply}); a Redis there must not need a password`);
  }
  const server = which('redis-server');
  if (server !== null) {
    mkdirSync(REDIS_DIR, { recursive: true });
    const started = Date.now();
    say(`redis: starting ${server} on ${HOST}:${REDIS_PORT} (no persistence, log ${REDIS_LOG_FILE})`);
    const run = spawnSync(server, [
      '--daemonize', 'yes', '--bind', HOST, '--port', String(REDIS_PORT), '--save', '', '--appendonly', 'no',
      '--pidfile', REDIS_PID_FILE, '--logfile', REDIS_LOG_FILE, '--dir', REDIS_DIR,
    ], { encoding: 'utf8', timeout: 30_000 });
    if (run.status !== 0) {
      throw new ServiceError(`redis-server failed to start: ${`${run.stderr}${run.stdout}`.trim().split('\n').pop() ?? run.error?.message}`);
    }
    await waitForPong(REDIS_READY_MS).catch((err) => {
      throw new ServiceError(`redis-server did not answer PING within ${REDIS_READY_MS / 1000} s (${err.message}); see ${REDIS_LOG_FILE}`);
    });
    say(`redis: ready on ${HOST}:${REDIS_PORT} after ${seconds(started)}`);
    return;
  }
  const engine = docker();
  if (engine.command !== undefined) {
    await composeUp('redis');
    await waitForPong(DOCKER_READY_MS).catch((err) => {
      throw new ServiceError(`the redis container did not answer PING within ${DOCKER_READY_MS / 1000} s (${err.message}); see: docker compose logs redis`);
    });
    say(`redis: ready on ${HOST}:${REDIS_PORT}`);
    return;
  }
  throw new ServiceError(`redis-server not found and Docker is not usable (${engine.why}): ${INSTALL_REDIS}`);
}

async function downRedis() {
  const pid = ownRedisPid();
  if (pid !== null) {
    say(`redis: stopping redis-server (pid ${pid}) with SIGTERM`);
    await stopProcess(pid, STOP_GRACE_MS);
    rmSync(REDIS_PID_FILE, { force: true });
    say('redis: stopped');
    return;
  }
  rmSync(REDIS_PID_FILE, { force: true });
  if (await stopDockerService('redis')) return;
  say(`redis: nothing started by this script runs${(await redisPing()) !== null ? `; leaving the server on ${HOST}:${REDIS_PORT} alone` : ''}`);
}

// ---------------------------------------------------------------------------------------------
// Stopping.

/** Whether no process, not even a zombie, has this pid any more. */
function isGone(pid) {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return err.code === 'ESRCH';
  }
}

/**
 * SIGTERM, then SIGKILL to the whole process group when it has not exited within `graceMs`;
 * then a short wait for its new parent to reap it, so that a caller that checks finds no pid.
 */
async function stopProcess(pid, graceMs) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    if (err.code === 'ESRCH') return;
    throw err;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(200);
  if (isAlive(pid)) {
    say(`pid ${pid} still runs after ${graceMs / 1000} s; sending SIGKILL`);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      process.kill(pid, 'SIGKILL');
    }
    const killDeadline = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < killDeadline) await sleep(100);
    if (isAlive(pid)) throw new ServiceError(`pid ${pid} survived SIGKILL for 10 s`);
  }
  const reapDeadline = Date.now() + 5_000;
  while (!isGone(pid) && Date.now() < reapDeadline) await sleep(100);
}

async function stopDockerService(service) {
  const started = dockerStarted();
  if (!started.has(service)) return false;
  const engine = docker();
  if (engine.command === undefined) {
    throw new ServiceError(`this script started ${service} with docker compose, but cannot stop it now: ${engine.why}`);
  }
  say(`${service}: stopping the compose service`);
  compose(['rm', '--stop', '--force', service], `docker compose rm --stop --force ${service}`);
  started.delete(service);
  saveDockerStarted(started);
  say(`${service}: stopped`);
  return true;
}

// ---------------------------------------------------------------------------------------------
// One `up` or `down` at a time (a test run and a developer may both start services).

async function withLock(work) {
  mkdirSync(LOCAL_DIR, { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  let said = false;
  while (true) {
    try {
      closeSync(openSync(LOCK_FILE, 'wx'));
      writeFileSync(LOCK_FILE, `${process.pid}\n`);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const holder = readPid(LOCK_FILE);
      if (holder === null || !isAlive(holder)) {
        rmSync(LOCK_FILE, { force: true });
        continue;
      }
      if (Date.now() >= deadline) throw new ServiceError(`another services.mjs (pid ${holder}) has held ${LOCK_FILE} for ${LOCK_WAIT_MS / 1000} s`);
      if (!said) say(`waiting for another services.mjs (pid ${holder}) to finish`);
      said = true;
      await sleep(250);
    }
  }
  const release = () => {
    if (readPid(LOCK_FILE) === process.pid) rmSync(LOCK_FILE, { force: true });
  };
  process.once('exit', release);
  try {
    return await work();
  } finally {
    release();
    process.off('exit', release);
  }
}

// ---------------------------------------------------------------------------------------------
// Commands.

const SERVICES = {
  kafka: { up: upKafka, down: downKafka },
  redis: { up: upRedis, down: downRedis },
};

/**
 * Makes the chosen services answer; resolves to one result per service:
 * `{ service, ok: true, address, startedBy, startedNow }` or `{ service, ok: false, error }`.
 * `startedNow` tells a test run's teardown which services it should stop again.
 */
/**
 * The java and the classpath of the broker's jars (fetched once, as `up` does), for a test
 * that runs a broker of its own on other ports and another data directory.
 */
export function kafkaRuntime() {
  const { java } = findJava();
  ensureKafkaLibs();
  return { java, classpath: join(KAFKA_LIBS_DIR, '*'), log4j: pathToFileURL(KAFKA_LOG4J_FILE).href };
}

export async function up({ services = ['kafka', 'redis'], quiet: silent = false } = {}) {
  quiet = silent;
  return withLock(async () => {
    const results = [];
    for (const service of services) {
      try {
        const answeredBefore = (await describe(service)).ok;
        await SERVICES[service].up();
        results.push({ ...(await describe(service)), startedNow: !answeredBefore });
      } catch (err) {
        results.push({ service, ok: false, error: err instanceof ServiceError ? err.message : `unexpected: ${err.stack ?? err}` });
      }
    }
    return results;
  });
}

/** Stops what this script started among the chosen services; leaves anything else alone. */
export async function down({ services = ['kafka', 'redis'], quiet: silent = false } = {}) {
  quiet = silent;
  return withLock(async () => {
    const results = [];
    for (const service of services) {
      try {
        await SERVICES[service].down();
        results.push({ service, ok: true });
      } catch (err) {
        results.push({ service, ok: false, error: err instanceof ServiceError ? err.message : `unexpected: ${err.stack ?? err}` });
      }
    }
    return results;
  });
}

async function describe(service) {
  if (service === 'kafka') {
    const owner = kafkaOwner();
    const address = `${HOST}:${KAFKA_PORT}`;
    if (!(await accepts(KAFKA_PORT))) {
      const starting = owner?.by === 'jars' ? `; the broker started by this script (pid ${owner.pid}) runs but does not listen yet` : '';
      return { service, ok: false, address, startedBy: owner, error: `nothing answers on ${address}${starting}` };
    }
    try {
      const metadata = await kafkaMetadata();
      return { service, ok: true, address, startedBy: owner, detail: describeCluster(metadata) };
    } catch (err) {
      return { service, ok: false, address, startedBy: owner, error: `${address} accepts connections but does not answer a Kafka metadata request (${err.message})` };
    }
  }
  const owner = redisOwner();
  const address = `${HOST}:${REDIS_PORT}`;
  const reply = await redisPing();
  if (reply === 'PONG') return { service, ok: true, address, startedBy: owner, detail: 'PING -> PONG' };
  return { service, ok: false, address, startedBy: owner, error: reply === null ? `nothing answers on ${address}` : `${address} answers PING with ${reply}` };
}

/** Where each chosen service answers and who started it. */
export async function status({ services = ['kafka', 'redis'] } = {}) {
  return Promise.all(services.map((service) => describe(service)));
}

function statusLine(result) {
  const who = describeOwner(result.startedBy ?? null);
  if (result.ok) return `${result.service}: answers on ${result.address} (${result.detail}); ${who}`;
  return `${result.service}: ${result.error}`;
}

const USAGE = `usage: node scripts/services.mjs up|down|status [--kafka] [--redis] [--quiet] [--json]
  up      make Kafka (127.0.0.1:9092) and Redis (127.0.0.1:6379) answer: use what runs,
          else Docker compose when an engine runs, else the Maven-jar broker and redis-server
  down    stop what this script started; leave anything else alone
  status  one line per service: where it answers and who started it (exit 1 if one does not)
  --kafka, --redis  only these services (both when neither is given)
  --quiet           no progress lines on stderr (failures are still printed)
  --json            also print the results as JSON on stdout`;

async function main(argv) {
  const flags = new Set(argv.filter((a) => a.startsWith('-')));
  const commands = argv.filter((a) => !a.startsWith('-'));
  const known = new Set(['--kafka', '--redis', '--quiet', '--json', '--help', '-h']);
  const unknown = [...flags].filter((f) => !known.has(f));
  if (flags.has('--help') || flags.has('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (commands.length !== 1 || !['up', 'down', 'status'].includes(commands[0]) || unknown.length > 0) {
    process.stderr.write(`${unknown.length > 0 ? `unknown option ${unknown.join(', ')}\n` : ''}${USAGE}\n`);
    return 1;
  }
  const chosen = ['kafka', 'redis'].filter((s) => flags.has(`--${s}`));
  const services = chosen.length === 0 ? ['kafka', 'redis'] : chosen;
  const options = { services, quiet: flags.has('--quiet') };
  const json = flags.has('--json');

  const command = commands[0];
  const results = command === 'up' ? await up(options) : command === 'down' ? await down(options) : await status(options);
  if (command === 'status') {
    for (const result of results) process.stdout.write(`${statusLine(result)}\n`);
  }
  for (const result of results) {
    if (!result.ok && command !== 'status') process.stderr.write(`services: ${result.service}: ${result.error}\n`);
  }
  if (json) process.stdout.write(`${JSON.stringify(results)}\n`);
  return results.every((r) => r.ok) ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      process.stderr.write(`services: interrupted (${signal}); a broker already started keeps running: stop it with "node scripts/services.mjs down"\n`);
      process.exit(1);
    });
  }
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => {
      process.stderr.write(`services: ${err instanceof ServiceError ? err.message : err.stack ?? err}\n`);
      process.exitCode = 1;
    },
  );
}

/**
 * Real Redis servers for integration tests: the project's local launcher, with every server recorded so
 * that the harness can check none is left running.
 */
import {
  startRedis as startLocal,
  type RedisServer,
  type StartRedisOptions,
} from "../../tooling/local-redis";
import { recordServer } from "./servers";

export { randomPassword, type RedisServer, type StartRedisOptions } from "../../tooling/local-redis";

export function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  return startLocal({ ...opts, onSpawn: (pid) => recordServer("redis-server", pid) });
}

/**
 * Pre-escaped values for templates/nginx.conf.hbs: server names, upstream servers, balancing,
 * static locations, TLS and rate limiting from `deploy.nginx`. Every value goes through
 * {@link nginxString} / {@link nginxNames} / {@link integer}, which throw {@link UnsafeValueError}
 * naming the description field.
 *
 * On Debian's stock layout the enabled `default` site is `default_server` for port 80, so a site
 * with `server_name _` would never be chosen (nginx picks the default server for unknown names).
 * Hence: `serverName` left at `_` makes this site the default server itself (`default_server`;
 * the README's install steps disable Debian's default site, and `nginx -t` refuses the pair with
 * "duplicate default server" rather than serving the welcome page); real names are name-based
 * virtual hosts that work beside the default site.
 */
import type { Description } from "../description/types.js";
import { integer, nginxNames, nginxString } from "./escape.js";

/** What the nginx template reads as `x.nginx`. All strings are ready to paste into the file. */
export interface NginxDerived {
  /** `server_name` arguments, space separated (one per name of deploy.nginx.serverName). */
  serverNames: string;
  /** True when serverName is `_`: the site is the default server of its ports (`default_server`). */
  defaultServer: boolean;
  /** Plain-HTTP port (deploy.nginx.listen). */
  listen: string;
  /** `server` arguments: `127.0.0.1:3000`, `10.0.0.2:3000`, `unix:/run/app.sock`. */
  servers: string[];
  /** `least_conn` or null (round robin is nginx's default: no directive). */
  balance: string | null;
  /** `location <location> { root <root>; ... }` pairs. */
  statics: Array<{ location: string; root: string }>;
  /** HTTPS server settings, or null for plain HTTP. `redirect` is the 301 target prefix. */
  tls: { certificate: string; certificateKey: string; hsts: boolean; listen: string; redirect: string } | null;
  /** `limit_req_zone`/`limit_req` settings (zone name per app; burst null when 0), or null. */
  rateLimit: { zone: string; rate: string; burst: string | null } | null;
}

/** Compute {@link NginxDerived}. @throws UnsafeValueError naming the `deploy.nginx.*` field. */
export function deriveNginx(d: Description): NginxDerived {
  const n = d.deploy.nginx;
  const f = "deploy.nginx";
  const servers = (n.upstreams ?? [`127.0.0.1:${integer(d.port, "port", 1, 65535)}`]).map((u, i) => nginxString(u, `${f}.upstreams[${i}]`));
  const statics = (n.static ?? []).map((s, i) => ({
    location: nginxString(s.location, `${f}.static[${i}].location`),
    root: nginxString(s.root, `${f}.static[${i}].root`),
  }));
  let tls: NginxDerived["tls"] = null;
  if (n.tls) {
    const listen = integer(n.tls.listen ?? 443, `${f}.tls.listen`, 1, 65535);
    tls = {
      certificate: nginxString(n.tls.certificate, `${f}.tls.certificate`),
      certificateKey: nginxString(n.tls.certificateKey, `${f}.tls.certificateKey`),
      hsts: n.tls.hsts === true,
      listen,
      redirect: listen === "443" ? "https://$host" : `https://$host:${listen}`,
    };
  }
  const rateLimit = n.rateLimit
    ? {
        zone: `prodserver_${d.name.replace(/[.-]/g, "_")}_req`,
        rate: nginxString(n.rateLimit.rate, `${f}.rateLimit.rate`),
        burst: n.rateLimit.burst ? integer(n.rateLimit.burst, `${f}.rateLimit.burst`, 1, 100000) : null,
      }
    : null;
  return {
    serverNames: nginxNames(n.serverName, `${f}.serverName`),
    defaultServer: n.serverName === "_",
    listen: integer(n.listen, `${f}.listen`, 1, 65535),
    servers,
    balance: n.balance === "least_conn" ? "least_conn" : null,
    statics,
    tls,
    rateLimit,
  };
}

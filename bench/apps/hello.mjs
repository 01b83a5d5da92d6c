// The benchmark app: the same answer as the peers' servers (200 "Hello, World!", text/plain,
// Content-Length), as a Node request listener for `prodserver serve bench/apps/hello.mjs`.
const body = "Hello, World!";
export default function hello(req, res) {
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

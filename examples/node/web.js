// The seed's Node.js app: answers "Hello World" on $PORT.
const http = require("http");
const port = process.env.PORT || 5000;
http
  .createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("Hello World\n");
  })
  .listen(port, () => console.log(`listening on ${port}`));

// The seed's Node.js app: answers its GREETING config var ("Hello World") on $PORT.
const http = require("http");
const port = process.env.PORT || 5000;
const greeting = process.env.GREETING || "Hello World";
http
  .createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(`${greeting}\n`);
  })
  .listen(port, () => console.log(`listening on ${port}`));

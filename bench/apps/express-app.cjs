// test/corpus/express-listen's app (expressjs.com's hello world) with its listen() replaced by an
// export, for `prodserver serve app.cjs#default` (handler mode) in bench/listen.mjs. The bench
// copies this file into its copy of the corpus app, so `express` resolves from there.
const express = require('express')
const app = express()

app.get('/', (req, res) => {
  res.send('Hello World!')
})

module.exports = app

// Development entry point (`npm start`): one process on PORT (default 3000).
// In production prodserver's runtime imports src/app.js#app and does the listening.
import { app } from "./src/app.js";

const port = Number(process.env.PORT ?? 3000);
app.listen(port, () => console.log(`express-hello listening on http://127.0.0.1:${port}`));

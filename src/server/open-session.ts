export { openSession } from '../session/session.js';

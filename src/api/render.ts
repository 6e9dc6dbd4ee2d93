/** The API renders resources as the store keeps them; kept here so routes name their view from the api layer. */
export { renderResource } from '../store/render.js';

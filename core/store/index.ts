export { openStore, openDatabase, DB_FILE_NAME } from './store.js';
export type { Store, OpenDatabaseOptions } from './store.js';
export { migrate, schemaVersion, MIGRATIONS, LATEST_SCHEMA_VERSION } from './migrations.js';
export type { Migration, MigrationResult } from './migrations.js';
export {
  resolveDataDir,
  defaultDataDir,
  DATA_DIR_ENV,
  APP_DIR_NAME,
  APP_DIR_NAME_LINUX,
  unpackedPath,
} from './data-dir.js';
export type { DataDirOptions } from './data-dir.js';
export { ModelsRepo } from './models-repo.js';
export type { NewModel, ModelPatch } from './models-repo.js';
export { DatasetsRepo, ImagesRepo } from './datasets-repo.js';
export type { ImageFilter, ImportedImageRow, NewImage, ImagePatch } from './datasets-repo.js';
export { RunsRepo } from './runs-repo.js';
export type { NewRun, RunPatch } from './runs-repo.js';
export { ArtifactsRepo, GenerationsRepo } from './outputs-repo.js';
export type { NewArtifact, NewGeneration } from './outputs-repo.js';
export { SettingsRepo } from './settings-repo.js';

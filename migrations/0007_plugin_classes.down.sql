DROP TABLE connector_worker_configurations;
DROP TABLE connector_plugins;
DROP TABLE custom_plugin_classes;

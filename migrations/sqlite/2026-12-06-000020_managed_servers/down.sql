DROP TABLE managed_servers;
